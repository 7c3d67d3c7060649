/**
 * The clusters a chaos run can be pointed at. The workload and the checker only need AMQP URLs
 * and management URLs; the nemeses need a way to kill, restart, pause and isolate a node. So a
 * target is a `ChaosCluster`:
 *
 * - `warren` in **netns** mode (root, `ip netns` available): a bridge `<prefix>-<tag>b` in the
 *   root namespace at 10.78.<n>.254/24 (the driver's address), and per node a namespace
 *   `<prefix>-<tag>-w<i>` holding one etcd member (10.78.<n>.<i>:2379/2380) and one warren node
 *   (10.78.<n>.<i>:5672, HTTP :15672), joined to the bridge by a veth pair. Partitions are
 *   blackhole routes inside the namespaces (connects fail at once, flows die); the driver keeps
 *   reaching every node, as Jepsen's clients do;
 * - `warren` in **loopback** mode: the same processes on 127.0.0.1 with free ports picked once
 *   (kept across restarts); only the process-level nemeses (kill, restart, SIGSTOP, etcd member
 *   kill, cold restart);
 * - `rabbitmq`: three private RabbitMQ nodes (scripts/rabbitmq-node.sh, ports 22100/22110/22120 or
 *   rabbitBasePort +0/+10/+20, HTTP +1) joined into one cluster with `join_cluster`; process-level nemeses only (RabbitMQ in
 *   namespaces would need long Erlang node names and an epmd per namespace: not done).
 *
 * Every name this creates starts with `<prefix>-` (netPrefix, default `harness`); stop() removes it all.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, statfsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../helpers/broker.js";
import { ETCD_BIN, freePort } from "../cluster/helpers.js";
import { SERVER_NODE_FLAGS } from "../../src/main/node-flags.js";

export interface ChaosNode {
  index: number;
  /** the name the broker gives this node (`node`/`leader` in /api/queues) */
  name: string;
  url: string;
  mgmtUrl: string;
  running(): boolean;
  pid(): number | undefined;
  kill(): Promise<void>;
  start(): Promise<void>;
  pause(): void;
  resume(): void;
  /** the node's data directory (a small tmpfs when started with diskLimitMb) */
  dataDir: string;
}

export interface EtcdNode {
  name: string;
  clientUrl: string;
  running(): boolean;
  kill(): Promise<void>;
  start(): Promise<void>;
}

export interface ChaosCluster {
  target: "warren" | "rabbitmq";
  mode: "netns" | "loopback";
  nodes: ChaosNode[];
  etcd: EtcdNode[];
  /** cut node i off from the nodes in `from` (both directions); netns only */
  isolate(i: number, from: number[]): void;
  /** remove every partition */
  heal(): void;
  /** true when the nemeses needing namespaces can run */
  canPartition: boolean;
  /** fill node i's data dir (when it is a tmpfs) to the last byte; free() undoes it */
  fillDisk?(i: number): void;
  freeDisk?(i: number): void;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  etcdMembers?: number;
  /** mount a tmpfs of this size as node 0's data dir (netns mode, root) */
  diskLimitMb?: number;
  leaseTtl?: number;
  /** the nodes' --quorum-lease-ttl (default: warren's, 2 s) */
  quorumLeaseTtl?: number;
  log?: (s: string) => void;
  /** append every process's stderr to <logDir>/<label>.log (kept after stop) */
  logDir?: string;
  /** netns mode: first word of every namespace, bridge, veth and temp dir name (default `harness`; a shared machine gives each user their own) */
  netPrefix?: string;
  /** etcd members with --pre-vote (default true; false: etcd 3.4's default, to compare) */
  preVote?: boolean;
  /** etcd's --election-timeout in ms (default 1000, etcd's own; --heartbeat-interval is a tenth of it) */
  etcdElectionMs?: number;
  /** netns mode: the /24 the namespaces use, e.g. `10.78.40` (default 10.78.<20 + pid % 200>) */
  subnet?: string;
  /** rabbitmq: the first node's AMQP port; the nodes use base, base+10, base+20 (HTTP +1 each); default 22100 */
  rabbitBasePort?: number;
  /** warren: extra flags for each node's `node` process, e.g. ["--cpu-prof", "--cpu-prof-dir=/tmp/x"] */
  nodeFlags?: string[];
}

/** clusters started and not yet stopped (run.ts stops them on SIGINT/SIGTERM) */
export const liveClusters = new Set<ChaosCluster>();

function track(c: ChaosCluster): ChaosCluster {
  liveClusters.add(c);
  const stop = c.stop;
  c.stop = async () => {
    liveClusters.delete(c);
    await stop();
  };
  return c;
}

const exitedOf = (c: ChildProcess): Promise<void> => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once("exit", () => r())));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function sh(cmd: string, args: string[], quiet = false): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    if (quiet) return "";
    throw new Error(`${cmd} ${args.join(" ")}: ${(e as { stderr?: string }).stderr ?? (e as Error).message}`);
  }
}

/** Root with a working `ip netns`? */
export function netnsAvailable(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync("ip", ["netns", "list"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A process kept by the harness: spawned again with the same arguments on start(). */
class Proc {
  child: ChildProcess | null = null;
  tail = "";
  constructor(
    readonly label: string,
    readonly cmd: string,
    readonly args: string[],
    readonly ready: RegExp | ((p: Proc) => Promise<boolean>),
    readonly log: (s: string) => void,
    readonly logFile: string | null = null,
  ) {}
  running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }
  async start(timeoutMs = 30_000): Promise<void> {
    if (this.running()) return;
    this.tail = "";
    const child = spawn(this.cmd, this.args, { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, MALLOC_ARENA_MAX: "2" } });
    this.child = child;
    let readySeen = false;
    child.stderr!.on("data", (d: Buffer) => {
      this.tail = (this.tail + d.toString()).slice(-20_000);
      if (this.logFile) appendFileSync(this.logFile, d);
      if (!readySeen && this.ready instanceof RegExp && this.ready.test(this.tail)) readySeen = true;
    });
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${this.label} exited (${child.exitCode ?? child.signalCode}) while starting:\n${this.tail.slice(-2000)}`);
      if (this.ready instanceof RegExp ? readySeen : await this.ready(this).catch(() => false)) return;
      if (Date.now() > until) throw new Error(`${this.label} did not start within ${timeoutMs} ms:\n${this.tail.slice(-2000)}`);
      await sleep(50);
    }
  }
  async kill(): Promise<void> {
    const c = this.child;
    if (!c || !this.running()) return;
    try {
      process.kill(c.pid!, "SIGCONT");
    } catch {}
    c.kill("SIGKILL");
    await exitedOf(c);
    this.log(`${this.label}: killed`);
  }
  signal(sig: NodeJS.Signals): void {
    if (this.child && this.running()) process.kill(this.child.pid!, sig);
  }
}

const etcdHealthy = async (url: string): Promise<boolean> => {
  const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
  return r.ok && ((await r.json()) as { health: string }).health === "true";
};

/** 3 warren nodes + etcd, in namespaces when possible. */
export async function startWarrenCluster(opts: ClusterOptions & { mode?: "netns" | "loopback" } = {}): Promise<ChaosCluster> {
  const log = opts.log ?? (() => {});
  const mode = opts.mode ?? (netnsAvailable() ? "netns" : "loopback");
  const nEtcd = opts.etcdMembers ?? 3;
  const ttl = opts.leaseTtl ?? 2;
  const tag = (process.pid % 1296).toString(36).padStart(2, "0");
  const pre = opts.netPrefix ?? "harness";
  // interface names are at most 15 bytes: <pre>-<tag><i>p
  if (!/^[a-z][a-z0-9]{0,8}$/.test(pre)) throw new Error(`netPrefix '${pre}': 1-9 lower-case letters or digits, a letter first`);
  const subnet = opts.subnet ?? `10.78.${(process.pid % 200) + 20}`;
  if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(subnet)) throw new Error(`subnet '${subnet}': three octets, e.g. 10.78.40`);
  const base = join(tmpdir(), `${pre}-${tag}-${Date.now()}`);
  mkdirSync(base, { recursive: true });
  const ns = (i: number): string => `${pre}-${tag}-w${i + 1}`;
  const bridge = `${pre}-${tag}b`;
  const mounts: string[] = [];
  if (opts.logDir) mkdirSync(opts.logDir, { recursive: true });
  const logFile = (label: string): string | null => (opts.logDir ? join(opts.logDir, `${label.replace(/[^\w@.-]+/g, "_")}.log`) : null);

  const addrs: { host: string; amqp: number; mgmt: number; etcdClient: number; etcdPeer: number }[] = [];
  for (let i = 0; i < 3; i++) {
    if (mode === "netns") addrs.push({ host: `${subnet}.${i + 1}`, amqp: 5672, mgmt: 15672, etcdClient: 2379, etcdPeer: 2380 });
    else addrs.push({ host: "127.0.0.1", amqp: await freePort(), mgmt: await freePort(), etcdClient: await freePort(), etcdPeer: await freePort() });
  }
  const wrap = (i: number, cmd: string, args: string[]): [string, string[]] => (mode === "netns" ? ["ip", ["netns", "exec", ns(i), cmd, ...args]] : [cmd, args]);

  const teardownNet = (): void => {
    if (mode !== "netns") return;
    for (let i = 0; i < 3; i++) sh("ip", ["netns", "del", ns(i)], true);
    sh("ip", ["link", "del", bridge], true);
  };
  if (mode === "netns") {
    teardownNet();
    sh("ip", ["link", "add", bridge, "type", "bridge"]);
    sh("ip", ["addr", "add", `${subnet}.254/24`, "dev", bridge]);
    sh("ip", ["link", "set", bridge, "up"]);
    for (let i = 0; i < 3; i++) {
      const host = `${pre}-${tag}${i + 1}`;
      const peer = `${pre}-${tag}${i + 1}p`;
      sh("ip", ["netns", "add", ns(i)]);
      sh("ip", ["link", "add", host, "type", "veth", "peer", "name", peer]);
      sh("ip", ["link", "set", peer, "netns", ns(i)]);
      sh("ip", ["link", "set", host, "master", bridge]);
      sh("ip", ["link", "set", host, "up"]);
      sh("ip", ["-n", ns(i), "addr", "add", `${subnet}.${i + 1}/24`, "dev", peer]);
      sh("ip", ["-n", ns(i), "link", "set", peer, "up"]);
      sh("ip", ["-n", ns(i), "link", "set", "lo", "up"]);
    }
  }

  const etcdProcs: Proc[] = [];
  const initial = Array.from({ length: nEtcd }, (_, i) => `e${i}=http://${addrs[i]!.host}:${addrs[i]!.etcdPeer}`).join(",");
  for (let i = 0; i < nEtcd; i++) {
    const a = addrs[i]!;
    const client = `http://${a.host}:${a.etcdClient}`;
    const [cmd, args] = wrap(i, ETCD_BIN, [
      "--name",
      `e${i}`,
      "--data-dir",
      join(base, `etcd${i}`),
      "--listen-client-urls",
      client,
      "--advertise-client-urls",
      client,
      "--listen-peer-urls",
      `http://${a.host}:${a.etcdPeer}`,
      "--initial-advertise-peer-urls",
      `http://${a.host}:${a.etcdPeer}`,
      "--initial-cluster",
      initial,
      "--initial-cluster-token",
      `${pre}-${tag}`,
      "--initial-cluster-state",
      "new",
      "--log-level",
      "error",
      "--logger",
      "zap",
      "--heartbeat-interval",
      String(Math.round((opts.etcdElectionMs ?? 1000) / 10)),
      "--election-timeout",
      String(opts.etcdElectionMs ?? 1000),
      // a member cut off and back (isolate-leader's heal) must not depose the leader with its higher
      // term: without pre-vote the cluster re-elects, and nobody's lease keepalive is answered meanwhile
      // (docs/chaos.md); etcd 3.5's default, off in 3.4
      ...(opts.preVote === false ? [] : ["--pre-vote"]),
      // warren's etcd client pings every 0.5 s (src/cluster/etcd.ts); etcd's default 5 s minimum refuses that
      "--grpc-keepalive-min-time",
      "200ms",
    ]);
    etcdProcs.push(new Proc(`etcd e${i}`, cmd, args, () => etcdHealthy(client), log, logFile(`etcd-e${i}`)));
  }
  const endpoints = Array.from({ length: nEtcd }, (_, i) => `${addrs[i]!.host}:${addrs[i]!.etcdClient}`).join(",");
  const prefix = `/${pre}-${tag}-${Date.now()}/`;
  const warrenProcs: Proc[] = [];
  const dataDirs: string[] = [];
  for (let i = 0; i < 3; i++) {
    const a = addrs[i]!;
    const dataDir = join(base, `n${i + 1}`);
    mkdirSync(dataDir, { recursive: true });
    if (i === 0 && opts.diskLimitMb && mode === "netns") {
      sh("mount", ["-t", "tmpfs", "-o", `size=${opts.diskLimitMb}m`, "harness-tmpfs", dataDir]);
      mounts.push(dataDir);
    }
    dataDirs.push(dataDir);
    const [cmd, args] = wrap(i, process.execPath, [
      ...SERVER_NODE_FLAGS,
      ...(opts.nodeFlags ?? []),
      join(repoRoot, "bin", "warren.js"),
      "server",
      "--bind",
      a.host,
      "--port",
      String(a.amqp),
      "--mgmt-port",
      String(a.mgmt),
      "--prometheus-port",
      "off",
      "--no-fleet",
      "--log-level",
      process.env.WARREN_TEST_LOG ? "debug" : "warn",
      "--data-dir",
      dataDir,
      "--etcd-endpoints",
      endpoints,
      "--etcd-prefix",
      prefix,
      "--node-name",
      `warren@n${i + 1}`,
      "--cluster-lease-ttl",
      String(ttl),
      ...(opts.quorumLeaseTtl ? ["--quorum-lease-ttl", String(opts.quorumLeaseTtl)] : []),
      // guest may log in from loopback only (as in RabbitMQ); the driver reaches the namespaces over the bridge
      "--default-user",
      "harness",
      "--default-pass",
      "harness",
      ...(opts.diskLimitMb ? ["--disk-free-limit", "1000000"] : []),
    ]);
    warrenProcs.push(new Proc(`warren@n${i + 1}`, cmd, args, /listening amqp:\/\//, log, logFile(`warren@n${i + 1}`)));
  }

  const stop = async (): Promise<void> => {
    for (const p of [...warrenProcs, ...etcdProcs]) await p.kill();
    for (const m of mounts) sh("umount", ["-l", m], true);
    teardownNet();
    rmSync(base, { recursive: true, force: true });
  };
  try {
    await Promise.all(etcdProcs.map((p) => p.start()));
    await warrenProcs[0]!.start();
    await Promise.all(warrenProcs.slice(1).map((p) => p.start()));
  } catch (e) {
    await stop();
    throw e;
  }

  const nodes: ChaosNode[] = warrenProcs.map((p, i) => ({
    index: i,
    name: `warren@n${i + 1}`,
    url: `amqp://harness:harness@${addrs[i]!.host}:${addrs[i]!.amqp}`,
    mgmtUrl: `http://harness:harness@${addrs[i]!.host}:${addrs[i]!.mgmt}`,
    dataDir: dataDirs[i]!,
    running: () => p.running(),
    pid: () => p.child?.pid,
    kill: () => p.kill(),
    start: () => p.start(60_000),
    pause: () => p.signal("SIGSTOP"),
    resume: () => p.signal("SIGCONT"),
  }));
  const etcd: EtcdNode[] = etcdProcs.map((p, i) => ({
    name: `e${i}`,
    clientUrl: `http://${addrs[i]!.host}:${addrs[i]!.etcdClient}`,
    running: () => p.running(),
    kill: () => p.kill(),
    start: () => p.start(),
  }));
  const routes: [number, string][] = [];
  const fillers = new Map<number, string>();
  return track({
    target: "warren",
    mode,
    nodes,
    etcd,
    canPartition: mode === "netns",
    isolate(i, from) {
      if (mode !== "netns") throw new Error("partitions need netns mode (root)");
      for (const j of from) {
        for (const [a, b] of [
          [i, j],
          [j, i],
        ] as [number, number][]) {
          const dst = `${addrs[b]!.host}/32`;
          sh("ip", ["-n", ns(a), "route", "add", "blackhole", dst]);
          routes.push([a, dst]);
        }
      }
      log(`isolated n${i + 1} from ${from.map((j) => `n${j + 1}`).join(",")}`);
    },
    heal() {
      for (const [a, dst] of routes.splice(0)) sh("ip", ["-n", ns(a), "route", "del", "blackhole", dst], true);
    },
    ...(mounts.length
      ? {
          fillDisk(i: number) {
            const f = join(dataDirs[i]!, "harness-filler");
            const before = statfsSync(dataDirs[i]!);
            // write zeros until ENOSPC: the tmpfs is then full to the last block
            spawnSync("sh", ["-c", 'cat /dev/zero > "$1" 2>/dev/null; true', "fill", f]);
            const after = statfsSync(dataDirs[i]!);
            fillers.set(i, f);
            log(`filled n${i + 1}'s ${opts.diskLimitMb} MiB data dir: ${Number(before.bavail) * Number(before.bsize)} bytes free before, ${Number(after.bavail) * Number(after.bsize)} after`);
          },
          freeDisk(i: number) {
            const f = fillers.get(i);
            if (f && existsSync(f)) rmSync(f);
            fillers.delete(i);
          },
        }
      : {}),
    stop,
  });
}

/** 3 private RabbitMQ nodes (scripts/rabbitmq-node.sh) in one cluster; process nemeses only. */
export async function startRabbitCluster(opts: ClusterOptions = {}): Promise<ChaosCluster> {
  const log = opts.log ?? (() => {});
  const script = join(repoRoot, "scripts", "rabbitmq-node.sh");
  const base = join(tmpdir(), `harness-rmq-${opts.rabbitBasePort ?? 22100}-${Date.now()}`);
  const basePort = opts.rabbitBasePort ?? 22100;
  if (!Number.isInteger(basePort) || basePort < 1024 || basePort > 65535 - 21 - 20000)
    throw new Error(`rabbitBasePort ${basePort}: an integer from 1024 to ${65535 - 21 - 20000} (the nodes take base..base+21, Erlang distribution +20000)`);
  const ports = [basePort, basePort + 10, basePort + 20];
  const dirs = ports.map((p) => join(base, `rmq${p}`));
  const rmq = (...args: string[]): string => sh("bash", [script, ...args]);
  const pidOf = (i: number): number | undefined => {
    try {
      return Number(readFileSync(join(dirs[i]!, "pid"), "utf8").trim()) || undefined;
    } catch {
      return undefined;
    }
  };
  const alive = (pid: number | undefined): boolean => {
    if (!pid) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const startNode = async (i: number): Promise<void> => {
    await new Promise<void>((resolve, reject) => {
      const c = spawn("bash", [script, "start", dirs[i]!, String(ports[i]), String(ports[i]! + 1)], { stdio: "ignore" });
      c.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`rabbitmq node ${ports[i]} did not start`))));
    });
  };
  await Promise.all([0, 1, 2].map(startNode));
  const names = ports.map((p) => `warren-ref-${p}@localhost`);
  for (const i of [1, 2]) {
    rmq("ctl", dirs[i]!, "stop_app");
    rmq("ctl", dirs[i]!, "reset");
    rmq("ctl", dirs[i]!, "join_cluster", names[0]!);
    rmq("ctl", dirs[i]!, "start_app");
  }
  log("rabbitmq: 3 nodes clustered");
  const nodes: ChaosNode[] = [0, 1, 2].map((i) => ({
    index: i,
    name: names[i]!,
    url: `amqp://guest:guest@127.0.0.1:${ports[i]}`,
    mgmtUrl: `http://guest:guest@127.0.0.1:${ports[i]! + 1}`,
    dataDir: dirs[i]!,
    running: () => alive(pidOf(i)),
    pid: () => pidOf(i),
    kill: async () => {
      const pid = pidOf(i);
      if (!alive(pid)) return;
      process.kill(pid!, "SIGCONT");
      process.kill(pid!, "SIGKILL");
      while (alive(pid)) await sleep(50);
      log(`${names[i]}: killed`);
    },
    start: () => startNode(i),
    pause: () => {
      const pid = pidOf(i);
      if (alive(pid)) process.kill(pid!, "SIGSTOP");
    },
    resume: () => {
      const pid = pidOf(i);
      if (alive(pid)) process.kill(pid!, "SIGCONT");
    },
  }));
  return track({
    target: "rabbitmq",
    mode: "loopback",
    nodes,
    etcd: [],
    canPartition: false,
    isolate() {
      throw new Error("partitions are not implemented for the rabbitmq target");
    },
    heal() {},
    async stop() {
      for (const n of nodes) n.resume();
      for (let i = 0; i < 3; i++) {
        try {
          rmq("stop", dirs[i]!);
        } catch {}
        await nodes[i]!.kill();
      }
      rmSync(base, { recursive: true, force: true });
    },
  });
}
