/**
 * The brokers under test, behind one small interface: where to connect, how
 * much memory the broker process holds right now, and how to restart it.
 *
 * Owns: starting warren as a child process (`bin/warren.js server --port 0`,
 * the same contract as test/helpers/broker.ts startBrokerProcess), reading
 * its RSS from /proc, and reading RabbitMQ's RSS (beam.smp, via the
 * management API's os_pid) or, failing that, its mem_used.
 * Does not own: scenarios. Invariants: a warren started here is always
 * stopped by stop() (SIGTERM, then SIGKILL after a deadline) and its
 * temporary data directory removed; RabbitMQ is never stopped or
 * reconfigured unless the user passed --rabbitmq-restart-cmd.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BenchConn } from "./wire/conn.js";
import { SERVER_NODE_FLAGS } from "../src/main/node-flags.js";

export type BrokerName = "warren" | "rabbitmq";

export interface Broker {
  name: BrokerName;
  /** amqp URL including the vhost to use */
  url: string;
  /** resident memory of the broker process in bytes (or the broker's own figure) */
  memoryBytes(): Promise<number>;
  /** the broker's OS process id when it runs on this host (for CPU figures), else null */
  pid(): Promise<number | null>;
  /** restart the broker (same data) and return ms from the restart request until it serves `probeQueue`; null when not possible */
  restart(probeQueue: string): Promise<number | null>;
  stop(): Promise<void>;
  /** started for this measurement alone and thrown away after it: no need to clean up inside */
  disposable: boolean;
  /** its management API (http://user:pass@host:port), where a scenario needs a vhost of its own; absent for a disposable broker */
  mgmtUrl?: string;
}

/** dist/bench/brokers.js → repository root */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export function rssOfPid(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** user + system CPU seconds consumed so far by a process (all its threads) */
export function cpuSecondsOfPid(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** Poll until a fresh connection can passively declare `queue`; returns when it can. */
export async function waitServing(url: string, queue: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const c = await BenchConn.open({ url, timeoutMs: 5000 });
      try {
        await c.openChannel(1);
        await c.queueDeclare(1, queue, { passive: true });
        return;
      } finally {
        await c.close();
      }
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  throw new Error(`broker not serving ${queue} after ${timeoutMs} ms: ${String(last)}`);
}

interface WarrenChild {
  child: ChildProcess;
  port: number;
  exited: Promise<void>;
}

function spawnWarren(dataDir: string, extraArgs: string[], port = 0): Promise<WarrenChild> {
  // --no-fleet: no embedded collector on the broker's "/" vhost; m1 runs its own collector process, as on RabbitMQ
  const args = [
    ...SERVER_NODE_FLAGS,
    join(repoRoot, "bin", "warren.js"),
    "server",
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--mgmt-port",
    "0",
    "--prometheus-port",
    "off",
    "--no-fleet",
    "--data-dir",
    dataDir,
    ...extraArgs,
  ];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  let err = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`warren did not print its listening line within 60 s:\n${err}`));
    }, 60_000);
    child.stderr!.on("data", (d: Buffer) => {
      if (err.length < 1_000_000) err += d.toString();
      const m = /listening amqp:\/\/[^\s]*:(\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), exited });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`warren exited with ${code} before listening:\n${err}`));
    });
  });
}

async function stopChild(w: WarrenChild): Promise<void> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return;
  w.child.kill("SIGTERM");
  const t = setTimeout(() => w.child.kill("SIGKILL"), 15_000);
  await w.exited;
  clearTimeout(t);
}

export async function startWarren(extraArgs: string[] = []): Promise<Broker> {
  const dataDir = mkdtempSync(join(tmpdir(), "warren-bench-"));
  let w = await spawnWarren(dataDir, extraArgs);
  const url = () => `amqp://guest:guest@127.0.0.1:${w.port}`;
  return {
    name: "warren",
    disposable: true,
    get url() {
      return url();
    },
    memoryBytes: async () => rssOfPid(w.child.pid!),
    pid: async () => w.child.pid ?? null,
    restart: async (probeQueue) => {
      const t0 = performance.now();
      await stopChild(w);
      // same port, so "serving" means what a client reconnecting would see
      w = await spawnWarren(dataDir, extraArgs, w.port);
      await waitServing(url(), probeQueue, 600_000);
      return performance.now() - t0;
    },
    stop: async () => {
      await stopChild(w);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface RabbitOptions {
  url: string;
  /** http://user:pass@host:15672; derived from url when absent */
  mgmtUrl?: string | undefined;
  /** a shell command that restarts RabbitMQ (e.g. "rabbitmqctl stop_app && rabbitmqctl start_app") */
  restartCmd?: string | undefined;
}

export function defaultMgmtUrl(amqpUrl: string): string {
  const u = new URL(amqpUrl);
  return `http://${u.username || "guest"}:${u.password || "guest"}@${u.hostname}:15672`;
}

export async function mgmtGet(mgmtUrl: string, path: string): Promise<unknown> {
  const u = new URL(mgmtUrl);
  const auth = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString("base64");
  const res = await fetch(`${u.protocol}//${u.host}${path}`, { headers: { authorization: `Basic ${auth}` }, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}`);
  return res.json();
}

export function rabbitmq(o: RabbitOptions): Broker {
  const mgmtUrl = o.mgmtUrl ?? defaultMgmtUrl(o.url);
  const node = async () => ((await mgmtGet(mgmtUrl, "/api/nodes")) as { os_pid: string; mem_used: number }[])[0]!;
  return {
    name: "rabbitmq",
    disposable: false,
    url: o.url,
    mgmtUrl,
    memoryBytes: async () => {
      const n = await node();
      try {
        return rssOfPid(Number(n.os_pid));
      } catch {
        return n.mem_used; // not on this host or not readable: the broker's own accounting
      }
    },
    pid: async () => {
      try {
        const pid = Number((await node()).os_pid);
        return existsSync(`/proc/${pid}/stat`) ? pid : null;
      } catch {
        return null;
      }
    },
    restart: async (probeQueue) => {
      if (!o.restartCmd) return null;
      const t0 = performance.now();
      await new Promise<void>((resolve, reject) => {
        const c = spawn("sh", ["-c", o.restartCmd!], { stdio: "ignore" });
        c.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`restart command exited ${code}`))));
      });
      await waitServing(o.url, probeQueue, 600_000);
      return performance.now() - t0;
    },
    stop: async () => {},
  };
}

export async function rabbitVersion(o: RabbitOptions): Promise<string> {
  try {
    const ov = (await mgmtGet(o.mgmtUrl ?? defaultMgmtUrl(o.url), "/api/overview")) as { rabbitmq_version?: string; erlang_version?: string };
    return `${ov.rabbitmq_version ?? "?"} (Erlang ${ov.erlang_version ?? "?"})`;
  } catch {
    return "unknown (management API not reachable)";
  }
}
