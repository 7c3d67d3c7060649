/**
 * Facts an agent announces with its presence: hostname, OS (platform and
 * distribution), addresses, agent version. Read once at start (cheap, no subprocesses).
 */
import { readFileSync } from "node:fs";
import { arch, hostname, networkInterfaces, platform, release } from "node:os";
import { FLEET_VERSION, type HostFacts } from "./protocol.js";

export function gatherFacts(concurrency: number): HostFacts {
  const addresses: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (!a.internal) addresses.push(a.address);
  return { hostname: hostname(), os: platform(), arch: arch(), release: release(), ...osRelease(), addresses, agentVersion: FLEET_VERSION, concurrency };
}

/** ID and VERSION_ID of /etc/os-release (systemd's format: KEY=value, value maybe quoted). */
function osRelease(): { distro?: string; distroVersion?: string } {
  let text: string;
  try {
    text = readFileSync("/etc/os-release", "utf8");
  } catch {
    return {};
  }
  const get = (key: string): string | undefined => {
    const m = new RegExp(`^${key}=(.*)$`, "m").exec(text);
    return m
      ? m[1]!
          .trim()
          .replace(/^(["'])(.*)\1$/, "$2")
          .slice(0, 100)
      : undefined;
  };
  const distro = get("ID");
  const distroVersion = get("VERSION_ID");
  return { ...(distro ? { distro } : {}), ...(distroVersion ? { distroVersion } : {}) };
}
