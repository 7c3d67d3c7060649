/**
 * Cluster test harness: real etcd members (Debian's etcd-server, /usr/bin/etcd) and real
 * `warren server` child processes on loopback, every port picked free at start, every data
 * directory a fresh temp dir, everything killed and removed by stop().
 *
 *   const c = await startCluster({ nodes: 3 });     // 1 etcd member unless etcdMembers: 3
 *   c.nodes[0].url / .mgmtUrl / .name;  await c.nodes[2].kill();  await c.stop();
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { startBrokerProcess, tempDir, type BrokerProcess } from "../helpers/broker.js";

export const ETCD_BIN = process.env.WARREN_TEST_ETCD ?? "/usr/bin/etcd";
export const haveEtcd = existsSync(ETCD_BIN);

/** A free loopback port (closed again before use: another process could take it, rarely). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface EtcdMember {
  name: string;
  clientUrl: string;
  child: ChildProcess;
  dir: string;
  kill(): Promise<void>;
}

export interface Etcd {
  members: EtcdMember[];
  /** host:port,host:port for --etcd-endpoints */
  endpoints: string;
  stop(): Promise<void>;
}

function exitedOf(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once("exit", () => r()));
}

/** n etcd members forming one etcd cluster (n = 1 or 3), healthy when this resolves. */
export async function startEtcd(n = 1): Promise<Etcd> {
  const ports: { client: number; peer: number }[] = [];
  for (let i = 0; i < n; i++) ports.push({ client: await freePort(), peer: await freePort() });
  const initial = ports.map((p, i) => `e${i}=http://127.0.0.1:${p.peer}`).join(",");
  const token = `warren-test-${process.pid}-${Date.now()}`;
  const members: EtcdMember[] = ports.map((p, i) => {
    const dir = tempDir("warren-etcd-");
    const clientUrl = `http://127.0.0.1:${p.client}`;
    const child = spawn(
      ETCD_BIN,
      [
        "--name",
        `e${i}`,
        "--data-dir",
        join(dir, "data"),
        "--listen-client-urls",
        clientUrl,
        "--advertise-client-urls",
        clientUrl,
        "--listen-peer-urls",
        `http://127.0.0.1:${p.peer}`,
        "--initial-advertise-peer-urls",
        `http://127.0.0.1:${p.peer}`,
        "--initial-cluster",
        initial,
        "--initial-cluster-token",
        token,
        "--initial-cluster-state",
        "new",
        "--log-level",
        "error",
        "--logger",
        "zap",
        // loopback: a short heartbeat makes the initial election quick
        "--heartbeat-interval",
        "50",
        "--election-timeout",
        "500",
        // a member that rejoins must not depose the leader (etcd 3.5's default; docs/cluster.md)
        "--pre-vote",
        // warren's etcd client pings every 0.5 s (src/cluster/etcd.ts); etcd's default 5 s minimum refuses that
        "--grpc-keepalive-min-time",
        "200ms",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    child.stderr!.on("data", () => {});
    return {
      name: `e${i}`,
      clientUrl,
      child,
      dir,
      kill: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        await exitedOf(child);
      },
    };
  });
  const stop = async (): Promise<void> => {
    for (const m of members) await m.kill();
    for (const m of members) rmSync(m.dir, { recursive: true, force: true });
  };
  try {
    for (const m of members) {
      await waitFor(`etcd ${m.name} healthy`, async () => {
        if (m.child.exitCode !== null) throw new Error(`etcd ${m.name} exited with ${m.child.exitCode}`);
        const r = await fetch(`${m.clientUrl}/health`);
        return r.ok && ((await r.json()) as { health: string }).health === "true";
      });
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { members, endpoints: ports.map((p) => `127.0.0.1:${p.client}`).join(","), stop };
}

export interface WarrenNode extends BrokerProcess {
  name: string;
}

/** One `warren server` member of the cluster behind `endpoints` (a fresh data dir unless given). */
export async function startNode(endpoints: string, name: string, opts: { dataDir?: string; prefix?: string; args?: string[] } = {}): Promise<WarrenNode> {
  const dataDir = opts.dataDir ?? tempDir("warren-node-");
  const p = await startBrokerProcess(dataDir, [
    "--no-fleet",
    "--prometheus-port",
    "off",
    "--log-level",
    process.env.WARREN_TEST_LOG ? "debug" : "warn",
    "--etcd-endpoints",
    endpoints,
    "--node-name",
    name,
    "--cluster-lease-ttl",
    "2",
    ...(opts.prefix ? ["--etcd-prefix", opts.prefix] : []),
    ...(opts.args ?? []),
  ]);
  return Object.assign(p, { name });
}

export interface TestCluster {
  etcd: Etcd;
  nodes: WarrenNode[];
  prefix: string;
  /** kill every node and etcd member, remove their directories */
  stop(): Promise<void>;
}

export async function startCluster(opts: { nodes: number; etcdMembers?: number }): Promise<TestCluster> {
  const etcd = await startEtcd(opts.etcdMembers ?? 1);
  const prefix = `/warren-test-${Date.now()}/`;
  const nodes: WarrenNode[] = [];
  const stop = async (): Promise<void> => {
    for (const n of nodes) await n.kill();
    for (const n of nodes) rmSync(n.dataDir, { recursive: true, force: true });
    await etcd.stop();
  };
  try {
    // the first node creates the cluster (default user and vhost); the others join it
    nodes.push(await startNode(etcd.endpoints, "warren@n1", { prefix }));
    const rest = await Promise.all(Array.from({ length: opts.nodes - 1 }, (_, i) => startNode(etcd.endpoints, `warren@n${i + 2}`, { prefix })));
    nodes.push(...rest);
  } catch (e) {
    await stop();
    throw e;
  }
  return { etcd, nodes, prefix, stop };
}

/** GET a management API path as guest; parsed JSON. */
export async function api<T = unknown>(mgmtUrl: string, path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: T }> {
  const u = new URL(mgmtUrl);
  const auth = "Basic " + Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString("base64");
  const r = await fetch(`http://${u.host}${path}`, {
    method: init.method ?? "GET",
    headers: { authorization: auth, "content-type": "application/json" },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : null) as T };
}
