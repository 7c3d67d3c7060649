/**
 * Test helpers for the Fleet end-to-end suite: a private vhost on the test
 * broker (created through the management API when there is one, so leftovers
 * of earlier runs cannot leak in), and Fleet processes — collector, agents and
 * CLI invocations — run as separate `node dist/src/fleet/bin.js VERB` processes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { repoRoot } from "../helpers/broker.js";

export const BIN = join(repoRoot, "dist", "src", "fleet", "bin.js");

export interface Vhost {
  url: string;
  mgmtUrl: string | undefined;
  name: string;
  drop(): Promise<void>;
}

function mgmtReq(mgmtUrl: string, method: string, path: string, body?: unknown): Promise<Response> {
  const u = new URL(mgmtUrl);
  const auth = "Basic " + Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString("base64");
  u.username = "";
  u.password = "";
  return fetch(new URL(path, u), { method, headers: { authorization: auth, "content-type": "application/json" }, ...(body ? { body: JSON.stringify(body) } : {}) });
}

/** A fresh vhost with guest permissions, or the broker's own URL when there is no management API. */
export async function privateVhost(brokerUrl: string, mgmtUrl: string | undefined): Promise<Vhost> {
  if (!mgmtUrl) return { url: brokerUrl, mgmtUrl, name: new URL(brokerUrl).pathname.slice(1) || "/", drop: async () => {} };
  const name = `fleet-e2e-${randomBytes(4).toString("hex")}`;
  const user = decodeURIComponent(new URL(brokerUrl).username || "guest");
  let r = await mgmtReq(mgmtUrl, "PUT", `/api/vhosts/${name}`, {});
  if (r.status >= 300) throw new Error(`create vhost: HTTP ${r.status}`);
  r = await mgmtReq(mgmtUrl, "PUT", `/api/permissions/${name}/${encodeURIComponent(user)}`, { configure: ".*", write: ".*", read: ".*" });
  if (r.status >= 300) throw new Error(`set permissions: HTTP ${r.status}`);
  const u = new URL(brokerUrl);
  u.pathname = `/${name}`;
  return { url: u.toString(), mgmtUrl, name, drop: async () => void (await mgmtReq(mgmtUrl, "DELETE", `/api/vhosts/${name}`)) };
}

/** What a Fleet test file started, taken down in order: agents, collector, the private vhost, the broker, the temp dir. */
export async function stopFleetRig(r: { agents?: Iterable<FleetProc>; collector?: FleetProc; vh?: Vhost; broker?: { stop(): Promise<void> }; dir?: string }): Promise<void> {
  await Promise.all([...(r.agents ?? [])].map((a) => a.stop()));
  await r.collector?.stop();
  await r.vh?.drop();
  await r.broker?.stop();
  if (r.dir) rmSync(r.dir, { recursive: true, force: true });
}

export function mgmt(mgmtUrl: string, method: string, path: string, body?: unknown): Promise<Response> {
  return mgmtReq(mgmtUrl, method, path, body);
}

export class FleetProc {
  out = "";
  err = "";
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    child.stdout!.on("data", (d: Buffer) => (this.out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (this.err += d.toString()));
    this.exited = new Promise((r) => child.once("exit", (code) => r(code)));
  }
  /** wait until stderr (the log) matches */
  async waitLog(re: RegExp, ms = 15_000): Promise<void> {
    const until = Date.now() + ms;
    while (!re.test(this.err)) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${re} in:\n${this.err}`);
      if (this.child.exitCode !== null) throw new Error(`process exited (${this.child.exitCode}) before ${re}:\n${this.err}`);
      await sleep(50);
    }
  }
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    await this.exited;
  }
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    await this.exited;
  }
}

export function startFleet(verb: string, args: string[]): FleetProc {
  return new FleetProc(spawn(process.execPath, [BIN, verb, ...args], { stdio: ["ignore", "pipe", "pipe"] }));
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function cli(args: string[], timeoutMs = 30_000): Promise<CliResult> {
  const p = startFleet(args[0]!, args.slice(1));
  const t = setTimeout(() => p.child.kill("SIGKILL"), timeoutMs);
  const code = await p.exited;
  clearTimeout(t);
  return { code, stdout: p.out, stderr: p.err };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(150);
  }
}
