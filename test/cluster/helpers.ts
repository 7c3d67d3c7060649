/**
 * Cluster test harness: real etcd members (Debian's etcd-server, /usr/bin/etcd) and real
 * `warren server` child processes on loopback, every port picked free at start, every data
 * directory a fresh temp dir, everything killed and removed by stop().
 *
 *   const c = await startCluster({ nodes: 3 });     // 1 etcd member unless etcdMembers: 3
 *   c.nodes[0].url / .mgmtUrl / .name;  await c.nodes[2].kill();  await c.stop();
 *
 * A test file whose tests share one cluster: `const c = clusterForFile({ nodes: 3 })` at the
 * top and `{ skip: skipCluster }` on each test.
 */
import { before, after } from "node:test";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import amqp from "amqplib";
import { startBrokerProcess, tempDir, type BrokerProcess } from "../helpers/broker.js";

export const ETCD_BIN = process.env.WARREN_TEST_ETCD ?? "/usr/bin/etcd";
export const haveEtcd = existsSync(ETCD_BIN);
/** Why the cluster tests skip, or false: they start etcd and warren processes themselves. */
export const skipCluster: string | false = !haveEtcd || process.env.WARREN_TEST_URL ? "needs /usr/bin/etcd (Debian etcd-server) and runs warren itself" : false;

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
  /** with `peerNet`: the members' Raft traffic, which a test can cut between two members */
  peerNet: EtcdPeerNet | null;
  stop(): Promise<void>;
}

function exitedOf(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once("exit", () => r()));
}

/**
 * n etcd members forming one etcd cluster (n = 1 or 3), healthy when this resolves. With
 * `peerNet`, each member advertises its peer URL through a proxy of an EtcdPeerNet, so that a
 * test can cut two members apart.
 */
export async function startEtcd(n = 1, opts: { peerNet?: boolean } = {}): Promise<Etcd> {
  const ports: { client: number; peer: number }[] = [];
  for (let i = 0; i < n; i++) ports.push({ client: await freePort(), peer: await freePort() });
  const peerNet = opts.peerNet ? await EtcdPeerNet.start(ports.map((p) => p.peer)) : null;
  const advertised = ports.map((p, i) => `http://127.0.0.1:${peerNet?.ports[i] ?? p.peer}`);
  const initial = ports.map((_, i) => `e${i}=${advertised[i]}`).join(",");
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
        advertised[i]!,
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
    peerNet?.close();
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
  const endpoints = ports.map((p) => `127.0.0.1:${p.client}`).join(",");
  if (peerNet) {
    try {
      await peerNet.learnIds(endpoints);
    } catch (e) {
      await stop();
      throw e;
    }
  }
  return { members, endpoints, peerNet, stop };
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

export async function startCluster(opts: { nodes: number; etcdMembers?: number; args?: string[] }): Promise<TestCluster> {
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
    const args = opts.args ?? [];
    nodes.push(await startNode(etcd.endpoints, "warren@n1", { prefix, args }));
    const rest = await Promise.all(Array.from({ length: opts.nodes - 1 }, (_, i) => startNode(etcd.endpoints, `warren@n${i + 2}`, { prefix, args })));
    nodes.push(...rest);
  } catch (e) {
    await stop();
    throw e;
  }
  return { etcd, nodes, prefix, stop };
}

/** A test file's own set-up taken down: logs (WARREN_TEST_LOG), nodes killed, their dirs removed, etcd stopped. */
export async function stopNodes(nodes: WarrenNode[], etcd: Etcd | undefined): Promise<void> {
  if (process.env.WARREN_TEST_LOG) for (const n of nodes) console.log(`--- ${n.name}\n${n.stderr()}`);
  for (const n of nodes) await n.kill();
  for (const n of nodes) rmSync(n.dataDir, { recursive: true, force: true });
  await etcd?.stop();
}

/**
 * One cluster for every test of the calling file: started in `before` (unless the file skips),
 * stopped in `after`. The handle is filled in when `before` has run, so use it inside tests only.
 * With WARREN_TEST_LOG set, every node's stderr is printed at the end.
 */
export function clusterForFile(opts: { nodes: number; etcdMembers?: number; args?: string[] }, skip: string | false = skipCluster): TestCluster {
  const handle = { nodes: [] as WarrenNode[] } as unknown as TestCluster;
  let started = false;
  before(async () => {
    if (skip) return;
    Object.assign(handle, await startCluster(opts));
    started = true;
  });
  after(async () => {
    if (!started) return;
    if (process.env.WARREN_TEST_LOG) for (const n of handle.nodes) console.log(`--- ${n.name}\n${n.stderr()}`);
    await handle.stop();
  });
  return handle;
}

/**
 * A TCP proxy in front of an etcd member that a test can break, the two ways a network breaks:
 * `setCut(true)` drops every connection (resets: the client notices at once) and
 * `setFrozen(true)` keeps them open but carries nothing (a blackhole: only timeouts notice).
 * Either way new connections are refused until it is set back.
 */
export class EtcdProxy {
  private cut = false;
  private frozen = false;
  private readonly socks = new Set<Socket>();
  private server?: Server;
  port = 0;
  constructor(private readonly target: { host: string; port: number }) {}
  /** a proxy for the first endpoint of `endpoints` ("host:port,…"), listening on a free port */
  static async to(endpoints: string): Promise<EtcdProxy> {
    const [host, port] = endpoints.split(",")[0]!.split(":");
    const p = new EtcdProxy({ host: host!, port: Number(port) });
    await p.start();
    return p;
  }
  async start(): Promise<void> {
    const server = createServer((s) => {
      if (this.cut || this.frozen) return void s.destroy();
      const u = connect(this.target);
      this.socks.add(s).add(u);
      const drop = () => {
        s.destroy();
        u.destroy();
        this.socks.delete(s);
        this.socks.delete(u);
      };
      s.on("error", drop).on("close", drop);
      u.on("error", drop).on("close", drop);
      s.on("data", (d) => {
        if (!this.frozen) u.write(d);
      });
      u.on("data", (d) => {
        if (!this.frozen) s.write(d);
      });
    });
    this.server = server;
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    this.port = (server.address() as { port: number }).port;
  }
  setCut(on: boolean): void {
    this.cut = on;
    if (on) for (const s of this.socks) s.destroy();
  }
  setFrozen(on: boolean): void {
    this.frozen = on;
  }
  close(): void {
    this.setCut(true);
    this.server?.close();
  }
}

/**
 * etcd's Raft traffic between members, through one proxy per member, so that a test can cut two
 * members apart in both directions (as a firewall would) while each still reaches the others and
 * its clients. A member's messages travel on connections the others dial to it (Raft streams)
 * and on its own HTTP posts to them (pipeline), so a cut has to know who sent a connection:
 * every Raft request names its sender in X-Server-From. A cut connection stays open and carries
 * nothing (a blackhole); when the cut heals it is closed, as a timed-out connection would be,
 * and etcd dials again.
 */
export class EtcdPeerNet {
  readonly ports: number[] = [];
  private readonly servers: Server[] = [];
  /** member index by the hex id etcd sends in X-Server-From */
  private readonly index = new Map<string, number>();
  private readonly cuts = new Set<string>();
  private readonly links = new Set<{ from: number; to: number; a: Socket; b: Socket }>();

  static async start(peerPorts: number[]): Promise<EtcdPeerNet> {
    const net = new EtcdPeerNet();
    for (let to = 0; to < peerPorts.length; to++) {
      const target = peerPorts[to]!;
      const server = createServer((a) => net.accept(a, to, target));
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
      net.servers.push(server);
      net.ports.push((server.address() as { port: number }).port);
    }
    return net;
  }

  private accept(a: Socket, to: number, target: number): void {
    const b = connect({ host: "127.0.0.1", port: target });
    const link = { from: -1, to, a, b };
    const drop = (): void => {
      a.destroy();
      b.destroy();
      this.links.delete(link);
    };
    a.on("error", drop).on("close", drop);
    b.on("error", drop).on("close", drop);
    this.links.add(link);
    a.on("data", (d: Buffer) => {
      // one sender per connection, named by the first request that carries X-Server-From (Go
      // reuses a kept-alive connection of /version or /raft/probing, which do not, for /raft posts)
      if (link.from < 0) {
        const m = /\r\nX-Server-From: *([0-9a-f]+)\r\n/i.exec(d.toString("latin1"));
        if (m) link.from = this.index.get(m[1]!.toLowerCase()) ?? -1;
      }
      if (!this.isCut(link)) b.write(d);
    });
    b.on("data", (d: Buffer) => {
      if (!this.isCut(link)) a.write(d);
    });
  }

  private isCut(l: { from: number; to: number }): boolean {
    return l.from >= 0 && this.cuts.has(pairKey(l.from, l.to));
  }

  /** learn each member's id (from member list) so that connections can be told apart */
  async learnIds(endpoints: string): Promise<void> {
    const { Etcd3 } = await import("etcd3");
    const c = new Etcd3({ hosts: endpoints.split(",").map((e) => `http://${e}`) });
    try {
      const r = await c.cluster.memberList({});
      for (const m of r.members) this.index.set(BigInt(m.ID).toString(16), Number(m.name.replace(/^e/, "")));
    } finally {
      c.close();
    }
    // connections opened before the ids were known: dialled again, and named then
    for (const l of [...this.links]) l.a.destroy();
  }

  /** cut members i and j apart, both ways */
  cut(i: number, j: number): void {
    this.cuts.add(pairKey(i, j));
  }

  heal(): void {
    for (const l of [...this.links]) if (this.isCut(l)) l.a.destroy();
    this.cuts.clear();
  }

  close(): void {
    for (const l of [...this.links]) l.a.destroy();
    for (const s of this.servers) s.close();
  }
}

const pairKey = (i: number, j: number): string => (i < j ? `${i}-${j}` : `${j}-${i}`);

/** the index of the member etcd's members name as leader (-1: none agree yet) */
export async function etcdLeaderIndex(etcd: Etcd): Promise<number> {
  const { Etcd3 } = await import("etcd3");
  const c = new Etcd3({ hosts: etcd.members.map((m) => m.clientUrl) });
  try {
    const st = await c.maintenance.status({});
    const ms = await c.cluster.memberList({});
    const m = ms.members.find((x) => x.ID === st.leader);
    return m ? Number(m.name.replace(/^e/, "")) : -1;
  } finally {
    c.close();
  }
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

/** Consume a queue through one node with manual acks until `expect` distinct ids (each body a number) were delivered; the ids. */
export async function drain(url: string, queue: string, expect: number, prefetch = 100): Promise<Set<number>> {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createChannel();
    await ch.prefetch(prefetch);
    const got = new Set<number>();
    await ch.consume(queue, (m) => {
      if (!m) return;
      got.add(Number(m.content.toString()));
      ch.ack(m);
    });
    await waitFor(`${expect} messages drained`, () => got.size >= expect, 20_000);
    return got;
  } finally {
    await conn.close().catch(() => {});
  }
}
