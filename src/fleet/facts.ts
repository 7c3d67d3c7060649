/**
 * Facts an agent announces with its presence: hostname, OS, addresses, agent
 * version. Read once at start (cheap, no subprocesses).
 */
import { arch, hostname, networkInterfaces, platform, release } from "node:os";
import { FLEET_VERSION, type HostFacts } from "./protocol.js";

export function gatherFacts(concurrency: number): HostFacts {
  const addresses: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (!a.internal) addresses.push(a.address);
  return { hostname: hostname(), os: platform(), arch: arch(), release: release(), addresses, agentVersion: FLEET_VERSION, concurrency };
}
