/**
 * A warren node's membership of a cluster whose coordination lives in etcd
 * (docs/cluster.md). Owns, under the etcd prefix (default /warren/):
 *
 *   cluster            {name, createdAt}            written once, by the first node
 *   members/<node>     {id, type, joinedAt}         membership (disk_nodes / ram_nodes)
 *   live/<node>        {id, pid, listeners, stats,  bound to the node's lease: running_nodes;
 *                       conns}                       conns: its client connections per vhost and
 *                                                    user (vhost and user limits count the cluster's)
 *   defs/<id>.<seq>    {origin, cmds: [...]}        the definitions log, in etcd revision order
 *   snapshot           {gen, revision, commands, chunks}  what the log held up to `revision`,
 *   snapchunks/<gen>/<i>  [cmds]                    as commands, in chunks (compactLog)
 *   applied/<node>     revision                     how far the node has applied that log
 *   claims/<kind>/<vhost>/<name>                    first declare of a name, cluster-wide
 *   quorum/<vhost>/<name>, qlead/<vhost>/<name>,    quorum queues' replicas (replication.ts)
 *   qsuspect/<vhost>/<name>/<node>
 *
 * It is the broker's DefinitionsStore: every durable definition change the broker makes
 * (whatever made it: AMQP, HTTP, definitions import, auto-delete) is appended here,
 * batched per event-loop turn into one etcd transaction; every node watches the log and
 * applies the other nodes' batches with Broker.apply, in revision order, so all nodes hold
 * the same definitions. barrier() is what the AMQP and HTTP paths wait on before they
 * answer: committed, and applied by every running node.
 *
 * Compaction, so that neither etcd nor a joining node's replay grows with every declare a
 * cluster ever saw (RPC clients' exclusive reply queues are two batches each): one node (the
 * first running disc node by name) replaces the log by a snapshot of the definitions once it
 * holds more than --cluster-log-compact-after commands; and it compacts etcd's own revision
 * history (which every live-record refresh and applied report adds to) every
 * --etcd-compaction seconds, to the revision of one interval before, as kube-apiserver does.
 *
 * Node identity: a random id in <data-dir>/node.id. A node name already registered with
 * another id is refused at start, so a renamed or copied host cannot take over a member.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import os from "node:os";
import type { Broker } from "../broker/broker.js";
import { ClusterError, type ClusterMember, type ClusterView, type NodeType } from "../broker/cluster-view.js";
import type { Logger } from "../lib/logger.js";
import type { DefinitionsStore } from "../store/types.js";
import { command, decodeCommand, encodeCommand } from "../broker/commands.js";
import { attachHomes, CLUSTER_USER, PeerLinks } from "./remote.js";
import { hashPassword } from "../broker/auth.js";
import { EtcdClient, type Kv, type Op, type WatchEvent } from "./etcd.js";
import { isQuorum, Replication } from "./replication.js";
import { countConnections, userLimit, vhostLimit, type ConnectionCounts, type OtherNodesCounts } from "../broker/limits.js";

/** how often a node looks whether its connection counts changed (and republishes its live record then) */
const COUNTS_TICK_MS = 200;

export interface ClusterOptions {
  endpoints: string[];
  /** key prefix in etcd (default "/warren/"); several clusters can share one etcd */
  prefix?: string;
  nodeName: string;
  dataDir: string | null;
  log: Logger;
  /** lease TTL in seconds: a node that stops renewing is shown down after this long (default 5) */
  ttl?: number;
  /** how long barrier() waits for a slow running node before answering anyway (default 5000 ms) */
  applyTimeoutMs?: number;
  /** the address the replication listener binds (default 127.0.0.1; the AMQP listener's host) */
  replHost?: string;
  /** quorum queues' election lease TTL in seconds (default 2): how long a dead leader holds its queues */
  electionTtl?: number;
  /** replace the definitions log by a snapshot once it holds more commands than this (default 10,000) */
  logCompactAfter?: number;
  /** compact etcd's revision history every this many seconds (default 300; 0: never, etcd does it) */
  etcdCompactionSecs?: number;
}

/** the log's head: the definitions up to `revision` are the commands in snapchunks/<gen>/ */
interface SnapshotHead {
  gen: string;
  revision: number;
  commands: number;
  chunks: number;
}

/** etcd's default --max-request-bytes is 1.5 MiB: a snapshot is written in chunks well below it */
const SNAPSHOT_CHUNK_BYTES = 512 * 1024;

interface MemberRecord {
  id: string;
  type: NodeType;
  joinedAt: number;
}

/** etcd's default --max-txn-ops is 128: larger batches are split */
const MAX_TXN_OPS = 100;

export const defaultNodeName = (): string => `warren@${os.hostname().split(".")[0]}`;

/** The node id kept in the data directory (created on first start). */
export function nodeIdentity(dataDir: string | null): string {
  if (!dataDir) return randomBytes(8).toString("hex");
  const f = join(dataDir, "node.id");
  if (existsSync(f)) {
    const id = readFileSync(f, "utf8").trim();
    if (/^[0-9a-f]{16}$/.test(id)) return id;
    throw new Error(`${f} is damaged (expected 16 hex digits); restore it or remove it to make this a new node`);
  }
  const id = randomBytes(8).toString("hex");
  writeFileSync(f, id + "\n", { mode: 0o600 });
  return id;
}

const enc = encodeURIComponent;

export class Cluster implements DefinitionsStore, ClusterView {
  readonly nodeName: string;
  readonly nodeId: string;
  clusterName = "";
  appRunning = true;
  changes = 0;
  private readonly p: string;
  private readonly log: Logger;
  private readonly ttl: number;
  private readonly applyTimeoutMs: number;
  private etcd!: EtcdClient;
  private lease: { id: string; revoke(): Promise<void> } | null = null;
  private watcher: { close(): Promise<void> } | null = null;
  private broker: Broker | null = null;
  private bootCommands: Record<string, unknown>[] = [];
  /** the etcd revision the initial read was at; the watch starts after it */
  private readRevision = 0;
  private readonly memberRecords = new Map<string, MemberRecord>();
  private readonly liveRecords = new Map<string, Record<string, unknown>>();
  private readonly appliedBy = new Map<string, number>();
  /** the definitions log is applied here up to this revision */
  private appliedRevision = 0;
  /** applying another node's batch: the broker's appends are echoes, not new changes */
  private applying = false;
  private pending: Record<string, unknown>[] = [];
  private flushing: Promise<number> | null = null;
  private flushScheduled = false;
  private seq = 0;
  /** the revision of this node's last committed batch */
  private committedRevision = 0;
  private waiters: { check: () => boolean; resolve: () => void }[] = [];
  private reportTimer: NodeJS.Timeout | null = null;
  private refreshTimer: NodeJS.Timeout | null = null;
  private countsTimer: NodeJS.Timeout | null = null;
  /** the connection counts in the live record last written ("" after a new lease: write again) */
  private publishedCounts = "";
  private publishingCounts = false;
  private closed = false;
  private readonly startedAt = Date.now();
  private lastError: Error | null = null;
  infoSource: () => Record<string, unknown> = () => ({});
  private linkSecret = "";
  private links: PeerLinks | null = null;
  /** each durable queue's home node, from the definitions log (vhost \0 name → node) */
  private readonly homes = new Map<string, string>();
  /** quorum queues: placement, replication, elections */
  readonly repl: Replication;
  /** pause_minority closed the client listeners (they reopen when etcd is reachable again) */
  private fencedApp = false;
  /** the watch was cancelled (lostTrack): definitions unknown until a restart */
  private stale = false;
  /** the definitions log: commands per defs/ key, and their sum (what compaction looks at) */
  private readonly logKeys = new Map<string, number>();
  private logCommands = 0;
  private snapHead: SnapshotHead | null = null;
  private compacting = false;
  /** etcd history compaction: the revision seen one interval ago is compacted to at the next */
  private etcdCompactTimer: NodeJS.Timeout | null = null;
  private etcdCompactNext = 0;

  constructor(private readonly opts: ClusterOptions) {
    this.nodeName = opts.nodeName;
    this.nodeId = nodeIdentity(opts.dataDir);
    const prefix = opts.prefix ?? "/warren/";
    this.p = prefix.endsWith("/") ? prefix : prefix + "/";
    this.log = opts.log;
    this.ttl = opts.ttl ?? 5;
    this.applyTimeoutMs = opts.applyTimeoutMs ?? 5000;
    this.repl = new Replication({
      self: this.nodeName,
      prefix: this.p,
      log: this.log,
      etcd: () => this.etcd,
      secret: () => this.linkSecret,
      isRunning: (n) => this.isRunning(n),
      replAddress: (n) => (this.isRunning(n) ? ((this.liveRecords.get(n)!["repl"] as { host: string; port: number } | undefined) ?? null) : null),
      discPeers: () =>
        this.members()
          .filter((m) => m.name !== this.nodeName && m.running && m.type === "disc")
          .map((m) => m.name),
      fence: (on) => this.fence(on),
      ...(opts.electionTtl ? { electionTtl: opts.electionTtl } : {}),
    });
  }

  /** pause_minority: while cut off from etcd, client connections are closed (320 CONNECTION_FORCED) */
  private fence(on: boolean): void {
    if (!on && this.stale) return;
    if (on && this.appRunning && !this.fencedApp) {
      this.fencedApp = true;
      void this.app?.stop().catch(() => {});
    } else if (!on && this.fencedApp) {
      this.fencedApp = false;
      void this.app?.start().catch((e: Error) => this.log.error(`cluster: cannot reopen the listeners: ${e.message}`));
    }
  }

  /**
   * Connect, register (or recognise) this node, take its lease and read the definitions
   * log. Then the broker boots from load() and start() follows the log from there.
   */
  async connect(type: NodeType = "disc"): Promise<void> {
    this.etcd = await EtcdClient.connect(this.opts.endpoints);
    const now = Date.now();
    const c = await this.etcd.txn(
      [{ key: this.p + "cluster", target: "create", op: "==", value: 0 }],
      [{ put: this.p + "cluster", value: JSON.stringify({ name: this.nodeName, createdAt: now }) }],
      [{ get: this.p + "cluster" }],
    );
    const created = c.succeeded;
    this.clusterName = created ? this.nodeName : (JSON.parse(c.got[0]!.value) as { name: string }).name;
    const mkey = this.p + "members/" + enc(this.nodeName);
    const m = await this.etcd.txn(
      [{ key: mkey, target: "create", op: "==", value: 0 }],
      [{ put: mkey, value: JSON.stringify({ id: this.nodeId, type, joinedAt: now } satisfies MemberRecord) }],
      [{ get: mkey }],
    );
    if (!m.succeeded) {
      const rec = JSON.parse(m.got[0]!.value) as MemberRecord;
      if (rec.id !== this.nodeId) {
        this.etcd.close();
        throw new Error(
          `node name ${this.nodeName} belongs to another member of cluster ${this.clusterName} (node id ${rec.id}, this data directory has ${this.nodeId}); choose another --node-name, or run 'warren ctl forget_cluster_node ${this.nodeName}' on a running member if that node is gone for good`,
        );
      }
    }
    // the node links' password (remote.ts): made once, read by every member
    const sk = this.p + "secret";
    const sec = await this.etcd.txn([{ key: sk, target: "create", op: "==", value: 0 }], [{ put: sk, value: randomBytes(24).toString("base64url") }], [{ get: sk }]);
    this.linkSecret = sec.succeeded ? (await this.etcd.get(sk))!.value : sec.got[0]!.value;
    this.lease = await this.etcd.lease(this.ttl, (err) => this.leaseLost(err));
    await this.repl.listen(this.opts.replHost ?? "127.0.0.1");
    await this.publishLive();
    // the first node writes the default user and vhost through the broker's boot; the
    // others wait for them, so that no two nodes create different first users
    const deadline = Date.now() + 10_000;
    for (;;) {
      const all = await this.etcd.range(this.p, true);
      this.readRevision = all.revision;
      this.bootCommands = [];
      this.logKeys.clear();
      this.logCommands = 0;
      this.snapHead = null;
      for (const kv of all.kvs) this.absorb(kv, true);
      this.bootCommands = [...this.readSnapshot(all.kvs), ...this.bootCommands];
      for (const c of this.bootCommands) this.noteHome(c);
      // this node's log entries continue after the ones it wrote before a restart (a key
      // written again would replace an earlier batch of definitions)
      const mine = `${this.p}defs/${this.nodeId}.`;
      for (const kv of all.kvs) if (kv.key.startsWith(mine)) this.seq = Math.max(this.seq, Number(kv.key.slice(mine.length)) || 0);
      if (created || this.bootCommands.length > 0 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    this.appliedRevision = this.readRevision;
    this.log.info(
      `cluster ${this.clusterName}: node ${this.nodeName} (id ${this.nodeId}) ${created ? "created the cluster" : "joined"}; ${this.memberRecords.size} member(s), definitions at revision ${this.readRevision}`,
    );
  }

  /** After Broker.boot: follow the log and report how far this node has applied it. */
  async start(broker: Broker): Promise<void> {
    this.broker = broker;
    broker.cluster = this;
    broker.linkUser = CLUSTER_USER;
    // `impersonator`: the publishing node checked user_id already (RabbitMQ's tag for that)
    const linkUser = broker.users.get(CLUSTER_USER);
    if (!linkUser || !linkUser.tags.includes("impersonator"))
      broker.apply(command("user.add", { name: CLUSTER_USER, ...hashPassword(this.linkSecret), tags: ["administrator", "impersonator"] }), { origin: "import" });
    this.links = new PeerLinks(this.nodeName, this, { user: CLUSTER_USER, pass: this.linkSecret }, this.log, (vhost) => this.ensureLinkAccess(vhost));
    attachHomes(broker, this.links, this.homes, (n) => this.isRunning(n));
    await this.repl.start(broker, this.links);
    // transient and exclusive queues this node had before it (re)started died with that process
    this.dropTransientQueuesOf(this.nodeName);
    this.watcher = await this.etcd.watch(
      this.p,
      this.readRevision + 1,
      (evs, rev) => this.onEvents(evs, rev),
      (e) => this.lostTrack(e),
    );
    this.reportApplied();
    this.refreshTimer = setInterval(() => {
      void this.publishLive().catch(() => {});
      void this.maybeCompactLog();
    }, 5000);
    this.refreshTimer.unref();
    this.countsTimer = setInterval(() => this.countsTick(), COUNTS_TICK_MS);
    this.countsTimer.unref();
    const every = this.opts.etcdCompactionSecs ?? 300;
    if (every > 0) {
      this.etcdCompactTimer = setInterval(() => void this.compactEtcd(), every * 1000);
      this.etcdCompactTimer.unref();
    }
  }

  /**
   * RabbitMQ tracks connections cluster-wide (a vhost's max-connections, a user's
   * max-connections and max-channels count every node's): each node republishes its live
   * record when its own counts change, at most one write in flight, looked at every
   * COUNTS_TICK_MS; the others read them from the watch (otherNodesCounts).
   */
  private countsTick(): void {
    if (this.publishingCounts || !this.broker || !this.lease || this.closed) return;
    if (JSON.stringify(this.ownCounts()) === this.publishedCounts) return;
    this.publishingCounts = true;
    this.publishLive()
      .catch(() => {})
      .finally(() => (this.publishingCounts = false));
  }

  private ownCounts(): ConnectionCounts {
    if (!this.broker) return { v: {}, u: {} };
    const b = this.broker;
    const counts = countConnections(b.connections, CLUSTER_USER, {
      vhost: (v) => vhostLimit(b.parameters, v, "max-connections") !== undefined,
      user: (name) => {
        const user = b.users.get(name);
        return user !== undefined && (userLimit(user, "max-connections") !== undefined || userLimit(user, "max-channels") !== undefined);
      },
    });
    // RabbitMQ's queue `consumers` counts every consumer, on any node: the home node adds these
    // up (remoteConsumers) instead of counting one per consuming node's link
    const q: Record<string, number> = {};
    for (const v of this.broker.vhosts.values()) for (const x of v.queues.values()) if (x.remote !== null && x.consumerCount > 0) q[`${x.vhost}\u0000${x.name}`] = x.consumerCount;
    counts.q = q;
    return counts;
  }

  remoteConsumers(vhost: string, name: string): number {
    const key = `${vhost}\u0000${name}`;
    let n = 0;
    for (const m of this.memberRecords.keys()) {
      if (m === this.nodeName || !this.isRunning(m)) continue;
      const q = (this.liveRecords.get(m)!["conns"] as ConnectionCounts | undefined)?.q;
      n += Number(q?.[key]) || 0;
    }
    return n;
  }

  otherNodesCounts(): OtherNodesCounts {
    const others: ConnectionCounts[] = [];
    for (const name of this.memberRecords.keys()) {
      if (name === this.nodeName || !this.isRunning(name)) continue;
      const c = this.liveRecords.get(name)!["conns"] as ConnectionCounts | undefined;
      if (c && typeof c === "object" && c.v && c.u) others.push(c);
    }
    const sum = (f: (c: ConnectionCounts) => unknown): number => others.reduce((n, c) => n + (Number(f(c)) || 0), 0);
    return {
      vhostConnections: (v) => sum((c) => c.v[v]),
      userConnections: (u) => sum((c) => c.u[u]?.[0]),
      userChannels: (u) => sum((c) => c.u[u]?.[1]),
    };
  }

  // ---- DefinitionsStore -------------------------------------------------------

  load(): Record<string, unknown>[] {
    return this.bootCommands;
  }

  append(cmd: Record<string, unknown>): void {
    if (this.applying) return;
    this.changes++;
    // a queue's home is the node that declared it
    if (cmd["op"] === "queue.declare") {
      cmd = { ...cmd, node: this.nodeName };
      // a quorum queue: its replicas, chosen now (the definition records them)
      const q = this.broker?.vhosts.get(String(cmd["vhost"]))?.queues.get(String(cmd["name"]));
      if (q && isQuorum(q) && q.durable) {
        const members = this.repl.chooseMembers(q.arguments as Record<string, unknown>);
        cmd = { ...cmd, members };
        this.repl.declared(q, members, true);
      }
    }
    this.noteHome(cmd);
    this.pending.push(cmd);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => void this.flush().catch(() => {}));
    }
  }

  /** 0: the broker never compacts this log; the cluster does (compactLog), from a snapshot of every shared definition */
  get count(): number {
    return 0;
  }

  compact(): void {
    /* never called (count is 0): see compactLog */
  }

  /** The compactor: the first running disc node by name, so that one node does the work. */
  private isCompactor(): boolean {
    const disc = this.members()
      .filter((m) => m.running && m.type === "disc")
      .map((m) => m.name)
      .sort();
    return disc[0] === this.nodeName;
  }

  /** Replace the definitions log by a snapshot when it has outgrown the definitions it describes. */
  private async maybeCompactLog(): Promise<void> {
    const limit = Math.max(this.opts.logCompactAfter ?? 10_000, 2 * (this.snapHead?.commands ?? 0));
    if (this.compacting || this.closed || !this.broker || this.fencedApp || this.logCommands <= limit || !this.isCompactor()) return;
    this.compacting = true;
    try {
      await this.compactLog();
    } catch (e) {
      this.log.warn(`cluster: definitions log compaction failed (${(e as Error).message}); the log is intact, retrying later`);
    } finally {
      this.compacting = false;
    }
  }

  /**
   * The snapshot is this node's definitions, which are the log up to the revision it has
   * applied, provided none of its own changes is still on its way to etcd. The final
   * transaction replaces the log only if no defs/ key was written after that revision (a
   * range compare), so a declare committed meanwhile by any node makes it retry instead of
   * being lost. Returns whether the log was replaced.
   */
  async compactLog(): Promise<boolean> {
    const b = this.broker;
    if (!b || this.pending.length > 0 || this.flushing || this.committedRevision > this.appliedRevision) return false;
    const at = this.appliedRevision;
    const cmds = b.snapshot(true).map((c) => this.withPlacement(encodeCommand(c)));
    const gen = `${at}.${this.nodeId}`;
    const chunks: string[] = [];
    let cur: string[] = [];
    let size = 0;
    for (const c of cmds) {
      const j = JSON.stringify(c);
      if (size + j.length > SNAPSHOT_CHUNK_BYTES && cur.length > 0) {
        chunks.push(`[${cur.join(",")}]`);
        cur = [];
        size = 0;
      }
      cur.push(j);
      size += j.length + 1;
    }
    chunks.push(`[${cur.join(",")}]`);
    const dir = `${this.p}snapchunks/${gen}/`;
    try {
      for (let i = 0; i < chunks.length; i++) await this.etcd.txn([], [{ put: dir + String(i).padStart(6, "0"), value: chunks[i]! }]);
      const head: SnapshotHead = { gen, revision: at, commands: cmds.length, chunks: chunks.length };
      const old = this.snapHead;
      const r = await this.etcd.txn(
        [{ key: `${this.p}defs/`, prefix: true, target: "mod", op: "<", value: at + 1 }],
        [{ put: this.p + "snapshot", value: JSON.stringify(head) }, { delPrefix: `${this.p}defs/` }, ...(old ? [{ delPrefix: `${this.p}snapchunks/${old.gen}/` }] : [])],
      );
      if (!r.succeeded) {
        await this.etcd.txn([], [{ delPrefix: dir }]);
        return false;
      }
      this.log.info(`cluster: definitions log compacted: ${this.logCommands} commands up to revision ${at} replaced by a snapshot of ${cmds.length}`);
      return true;
    } catch (e) {
      await this.etcd.txn([], [{ delPrefix: dir }]).catch(() => {});
      throw e;
    }
  }

  /** A queue's placement travels with its declare: the home node, or a quorum queue's members. */
  private withPlacement(c: Record<string, unknown>): Record<string, unknown> {
    if (c["op"] !== "queue.declare") return c;
    const vhost = String(c["vhost"]);
    const name = String(c["name"]);
    const q = this.repl.info(vhost, name);
    if (q) return { ...c, node: q.leader ?? q.members[0] ?? this.nodeName, members: q.members };
    const home = this.homes.get(`${vhost}\u0000${name}`);
    return home ? { ...c, node: home } : c;
  }

  /** The commands of the snapshot named by the head read at boot (chunks of other generations are leftovers). */
  private readSnapshot(kvs: Kv[]): Record<string, unknown>[] {
    const head = this.snapHead;
    if (!head) return [];
    const dir = `${this.p}snapchunks/${head.gen}/`;
    const parts = kvs.filter((kv) => kv.key.startsWith(dir)).sort((a, b) => (a.key < b.key ? -1 : 1));
    if (parts.length !== head.chunks) throw new Error(`the definitions snapshot ${head.gen} in etcd has ${parts.length} of its ${head.chunks} chunks; the cluster's metadata is damaged`);
    return parts.flatMap((kv) => JSON.parse(kv.value) as Record<string, unknown>[]);
  }

  /**
   * etcd keeps every revision of every key until it is compacted (and refuses writes at its
   * space quota, 2 GiB by default): compact to the revision seen one interval ago, so that
   * watches and boots in progress (which read a recent revision) are never cut off.
   */
  private async compactEtcd(): Promise<void> {
    if (this.closed || !this.isCompactor()) {
      this.etcdCompactNext = 0;
      return;
    }
    try {
      if (this.etcdCompactNext > 0) await this.etcd.compact(this.etcdCompactNext);
      this.etcdCompactNext = (await this.etcd.range(this.p + "cluster")).revision;
    } catch (e) {
      // already compacted past it (by etcd's own --auto-compaction, say): fine
      if (!/compacted/i.test((e as Error).message)) this.log.warn(`cluster: etcd history compaction failed: ${(e as Error).message}`);
      this.etcdCompactNext = 0;
    }
  }

  sync(cb: (err?: Error) => void): void {
    this.barrier().then(() => cb(), cb);
  }

  /** Graceful stop, before the client connections close: hand every quorum queue this node leads to an in-sync follower. */
  resign(): Promise<void> {
    return this.repl.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reportTimer) clearTimeout(this.reportTimer);
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.countsTimer) clearInterval(this.countsTimer);
    if (this.etcdCompactTimer) clearInterval(this.etcdCompactTimer);
    try {
      await this.flush();
    } catch {
      /* etcd gone: nothing more to do */
    }
    await this.repl.close();
    this.links?.close();
    await this.watcher?.close().catch(() => {});
    await this.lease?.revoke();
    this.etcd?.close();
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  /** Commit what is pending as one log entry per batch; resolves to the revision committed. */
  private flush(): Promise<number> {
    this.flushScheduled = false;
    if (this.flushing) return this.flushing.then(() => (this.pending.length > 0 ? this.flush() : this.committedRevision));
    if (this.pending.length === 0) return Promise.resolve(this.committedRevision);
    const cmds = this.pending.splice(0, this.pending.length);
    this.flushing = this.commit(cmds).finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async commit(cmds: Record<string, unknown>[]): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const ops: Op[] = [];
      for (let i = 0; i < cmds.length; i += MAX_TXN_OPS / 2) {
        const slice = cmds.slice(i, i + MAX_TXN_OPS / 2);
        ops.push({ put: `${this.p}defs/${this.nodeId}.${String(++this.seq).padStart(12, "0")}`, value: JSON.stringify({ origin: this.nodeId, cmds: slice }) });
        for (const c of slice) ops.push(...this.claimReleases(c));
      }
      try {
        const r = await this.etcd.txn([], ops);
        for (const c of cmds) if (c["op"] === "queue.declare" && Array.isArray(c["members"])) this.repl.committed(String(c["vhost"]), String(c["name"]));
        this.committedRevision = r.revision;
        this.lastError = null;
        this.wake();
        return r.revision;
      } catch (e) {
        this.lastError = e as Error;
        if (this.closed || attempt >= 3) {
          this.log.error(`cluster: cannot commit ${cmds.length} definition change(s) to etcd: ${(e as Error).message}`);
          this.wake();
          throw e;
        }
        await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
      }
    }
  }

  /** deleting an object frees its name for a new first declare */
  private claimReleases(c: Record<string, unknown>): Op[] {
    const vh = enc(String(c["vhost"] ?? ""));
    const name = enc(String(c["name"] ?? ""));
    switch (c["op"]) {
      case "queue.declare":
        // a quorum queue's replica record: the declaring node is the first in-sync member (it leads first)
        if (!Array.isArray(c["members"])) return [];
        return [{ put: `${this.p}quorum/${vh}/${name}`, value: JSON.stringify({ members: c["members"], isr: [c["node"]] }) }];
      case "queue.delete":
        return [{ del: `${this.p}claims/queue/${vh}/${name}` }, { del: `${this.p}quorum/${vh}/${name}` }, { del: `${this.p}qlead/${vh}/${name}` }, { delPrefix: `${this.p}qsuspect/${vh}/${name}/` }];
      case "exchange.delete":
        return [{ del: `${this.p}claims/exchange/${vh}/${name}` }];
      case "vhost.delete":
        return [
          { delPrefix: `${this.p}claims/queue/${name}/` },
          { delPrefix: `${this.p}claims/exchange/${name}/` },
          { delPrefix: `${this.p}quorum/${name}/` },
          { delPrefix: `${this.p}qlead/${name}/` },
          { delPrefix: `${this.p}qsuspect/${name}/` },
        ];
      default:
        return [];
    }
  }

  private noteHome(c: Record<string, unknown>): void {
    const key = `${String(c["vhost"])}\u0000${String(c["name"])}`;
    // a quorum queue has no fixed home: it follows its leader (replication.ts)
    if (c["op"] === "queue.declare" && typeof c["node"] === "string" && !Array.isArray(c["members"])) {
      if (!this.homes.has(key)) this.homes.set(key, c["node"]);
    } else if (c["op"] === "queue.delete") {
      this.homes.delete(key);
      this.repl.deleted(String(c["vhost"]), String(c["name"]));
    } else if (c["op"] === "vhost.delete") {
      for (const k of [...this.homes.keys()]) if (k.startsWith(`${String(c["name"])}\u0000`)) this.homes.delete(k);
      this.repl.deletedVhost(String(c["name"]));
    }
  }

  /** the node a durable queue lives on (its declaring node), or undefined for a local-only queue */
  queueHome(vhost: string, name: string): string | undefined {
    return this.homes.get(`${vhost}\u0000${name}`) ?? this.repl.info(vhost, name)?.leader ?? undefined;
  }

  quorumInfo(vhost: string, name: string): ReturnType<Replication["info"]> {
    return this.repl.info(vhost, name);
  }

  quorumStatus(vhost: string, name: string): Record<string, unknown>[] {
    const qi = this.repl.info(vhost, name);
    if (!qi) throw new ClusterError(`Error:\n{:not_found, queue '${name}' in vhost '${vhost}' is not a quorum queue}`, 69);
    const pr = this.repl.progress(vhost, name);
    // RabbitMQ 3.10's columns (rabbit_quorum_queue:status/2), then warren's In Sync and Lag;
    // what this node does not know is blank, as RabbitMQ leaves a member it cannot reach
    const known = (n: number | null | undefined): number | "" => (n === undefined || n === null || n < 0 ? "" : n);
    return qi.members.map((m) => {
      const up = m === this.nodeName || this.isRunning(m);
      const state = !up ? "noproc" : m === qi.leader ? "leader" : qi.isr.includes(m) ? "follower" : "follower (catching up)";
      const p = pr?.members.get(m);
      return {
        "Node Name": m,
        "Raft State": state,
        "Log Index": known(p?.log),
        "Commit Index": known(pr?.commit),
        "Snapshot Index": known(p?.snapshot),
        Term: qi.epoch,
        "Machine Version": 1,
        "In Sync": qi.isr.includes(m),
        Lag: known(p?.lag),
      };
    });
  }

  async changeMember(vhost: string, name: string, node: string, add: boolean): Promise<void> {
    const r = await this.repl.changeMember(vhost, name, node, add, (n) => this.memberRecords.get(n)?.type === "disc" && this.isRunning(n));
    if (r !== "ok") throw new ClusterError(`Error:\n${r}`, 70);
    await this.barrier();
  }

  async growShrink(node: string, grow: boolean, strategy: "all" | "even", vhostPattern: string, queuePattern: string): Promise<{ vhost: string; name: string; size: number; result: string }[]> {
    const vre = new RegExp(vhostPattern);
    const qre = new RegExp(queuePattern);
    const out: { vhost: string; name: string; size: number; result: string }[] = [];
    for (const q of this.repl.quorumQueues()) {
      if (!vre.test(q.vhost) || !qre.test(q.name)) continue;
      if (grow && (q.members.includes(node) || (strategy === "even" && q.members.length % 2 !== 0))) continue;
      if (!grow && !q.members.includes(node)) continue;
      const r = await this.repl.changeMember(q.vhost, q.name, node, grow, (n) => this.memberRecords.get(n)?.type === "disc" && this.isRunning(n));
      out.push({ vhost: q.vhost, name: q.name, size: q.members.length + (r === "ok" ? (grow ? 1 : -1) : 0), result: r === "ok" ? "ok" : `error: ${r}` });
    }
    await this.barrier();
    return out;
  }

  isRunning(node: string): boolean {
    const m = this.memberRecords.get(node);
    const l = this.liveRecords.get(node);
    return m !== undefined && l !== undefined && l["id"] === m.id && l["app"] !== false;
  }

  peerEndpoints(): { node: string; host: string; port: number }[] {
    const out: { node: string; host: string; port: number }[] = [];
    for (const name of this.memberRecords.keys()) {
      if (name === this.nodeName || !this.isRunning(name)) continue;
      const m = this.liveRecords.get(name)!["mgmt"] as { host: string; port: number } | null | undefined;
      if (m && typeof m.host === "string" && typeof m.port === "number") out.push({ node: name, host: m.host, port: m.port });
    }
    return out;
  }

  linkCredentials(): { user: string; pass: string } {
    return { user: CLUSTER_USER, pass: this.linkSecret };
  }

  /** PeerDirectory: where a running member takes AMQP connections */
  amqpAddress(node: string): { host: string; port: number } | null {
    if (!this.isRunning(node)) return null;
    const a = this.liveRecords.get(node)!["amqp"] as { host: string; port: number } | undefined;
    return a ?? null;
  }

  private async ensureLinkAccess(vhost: string): Promise<void> {
    const b = this.broker!;
    if (b.permissions.has(`${vhost}\u0000${CLUSTER_USER}`)) return;
    b.apply(command("permission.set", { user: CLUSTER_USER, vhost, configure: "", write: ".*", read: ".*" }), { origin: "import" });
    await this.barrier();
  }

  // ---- rabbitmqctl's cluster verbs ------------------------------------------------

  /** the server's listener control, set by main */
  app: { stop(): Promise<void>; start(): Promise<void> } | null = null;
  /** reset: not a member until join_cluster or start_app */
  private left = false;

  private requireStopped(verb: string): void {
    // rabbitmqctl's refusal while the app runs (exit 69, EX_UNAVAILABLE)
    if (this.appRunning)
      throw new ClusterError(`Error: rabbit application is still running on node ${this.nodeName}.\nPlease stop the application with 'warren ctl stop_app' first (needed by ${verb}).`, 69);
  }

  async stopApp(): Promise<void> {
    if (!this.appRunning) return;
    this.appRunning = false;
    await this.app?.stop();
    await this.publishLive();
  }

  async startApp(): Promise<void> {
    if (this.appRunning) return;
    if (this.left) await this.register("disc");
    await this.app?.start();
    this.appRunning = true;
    await this.publishLive();
  }

  private async register(type: NodeType): Promise<void> {
    const rec: MemberRecord = { id: this.nodeId, type, joinedAt: Date.now() };
    await this.etcd.txn([], [{ put: this.p + "members/" + enc(this.nodeName), value: JSON.stringify(rec) }]);
    this.memberRecords.set(this.nodeName, rec);
    this.left = false;
  }

  async join(via: string, type: NodeType): Promise<void> {
    this.requireStopped("join_cluster");
    if (via === this.nodeName) throw new ClusterError(`Error: cannot cluster node with itself: ${via}`, 70);
    const m = this.memberRecords.get(via);
    // a node is clustered with the members of the etcd cluster it was started with
    if (!m)
      throw new ClusterError(
        `Error: ${via} is not a member of the cluster ${this.clusterName} that this node's etcd (${this.opts.endpoints.join(",")}) coordinates.\nStart this node with the etcd endpoints of ${via}'s cluster (--etcd-endpoints, --etcd-prefix) to join it.`,
        69,
      );
    await this.register(type);
  }

  async setType(type: NodeType): Promise<void> {
    this.requireStopped("change_cluster_node_type");
    if (this.left) throw new ClusterError(`Error: the node ${this.nodeName} is not clustered (run join_cluster first)`, 69);
    await this.register(type);
  }

  async reset(force: boolean): Promise<void> {
    if (!force) this.requireStopped("reset");
    await this.etcd.txn([], [{ del: this.p + "members/" + enc(this.nodeName) }, { del: this.p + "applied/" + enc(this.nodeName) }]);
    this.memberRecords.delete(this.nodeName);
    this.left = true;
  }

  async forget(node: string): Promise<void> {
    if (node === this.nodeName) throw new ClusterError(`Error: cannot forget the node the command runs on (${node}); run it on another member`, 70);
    if (!this.memberRecords.has(node)) throw new ClusterError(`Error: ${node} is not a member of the cluster ${this.clusterName}`, 69);
    const live = this.liveRecords.get(node);
    if (live !== undefined && live["id"] === this.memberRecords.get(node)!.id)
      throw new ClusterError(`Error:\n{:failed_to_remove_node, :"${node}", {:active, "the node is running", :"${node}"}}\nStop it (warren ctl stop or kill) before forgetting it.`, 70);
    // as RabbitMQ's forget_cluster_node: the durable classic queues homed there go too
    const b = this.broker!;
    for (const [key, home] of [...this.homes]) {
      if (home !== node) continue;
      const [vhost, name] = key.split("\u0000") as [string, string];
      const v = b.vhosts.get(vhost);
      const q = v?.queues.get(name);
      if (v && q) v.removeQueue(q);
      this.homes.delete(key);
    }
    await this.etcd.txn([], [{ del: this.p + "members/" + enc(node) }, { del: this.p + "applied/" + enc(node) }]);
    this.memberRecords.delete(node);
    await this.barrier();
  }

  // ---- ClusterView ---------------------------------------------------------------

  members(): ClusterMember[] {
    const out: ClusterMember[] = [];
    for (const [name, m] of this.memberRecords) {
      const live = this.liveRecords.get(name);
      const running = this.isRunning(name);
      out.push({ name, id: m.id, type: m.type, running, info: running ? (live ?? null) : null });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async barrier(): Promise<void> {
    const rev = await this.flush();
    if (this.lastError && rev === 0) throw this.lastError;
    if (rev === 0) return;
    await this.until(() => this.appliedEverywhere(rev), this.applyTimeoutMs, `definitions at revision ${rev} not yet applied by every running node`);
    // a quorum queue declared here: answered once it has a leader and enough in-sync replicas,
    // and every running node knows them
    await this.repl.settled();
    const r2 = this.repl.revision;
    if (r2 > rev) await this.until(() => this.appliedEverywhere(r2), this.applyTimeoutMs, `quorum queue leaders at revision ${r2} not yet known to every running node`);
  }

  async claim(kind: "exchange" | "queue", vhost: string, name: string): Promise<void> {
    const key = `${this.p}claims/${kind}/${enc(vhost)}/${enc(name)}`;
    const r = await this.etcd.txn([{ key, target: "create", op: "==", value: 0 }], [{ put: key, value: this.nodeName }], [{ get: key }]);
    if (r.succeeded) return;
    // declared first elsewhere: wait until that declare reached this node
    const has = (): boolean => {
      const v = this.broker?.vhosts.get(vhost);
      return v !== undefined && (kind === "queue" ? v.queues.has(name) : v.exchanges.has(name));
    };
    await this.until(has, this.applyTimeoutMs, `the first declare of ${kind} '${name}' (by ${r.got[0]?.value ?? "?"}) has not reached this node`);
  }

  private appliedEverywhere(rev: number): boolean {
    for (const m of this.members()) {
      if (!m.running || m.name === this.nodeName) continue;
      if ((this.appliedBy.get(m.name) ?? 0) < rev) return false;
    }
    return true;
  }

  /** Resolve when check() holds (re-checked after every etcd event), or after timeoutMs with a warning. */
  private until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (check() || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const w = {
        check,
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        this.log.warn(`cluster: ${what} after ${timeoutMs} ms; answering anyway`);
        resolve();
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.check()) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }

  // ---- following etcd -------------------------------------------------------------

  private onEvents(evs: WatchEvent[], revision: number): void {
    let applied = false;
    for (const e of evs) {
      if (e.type === "delete") this.forgetKey(e.kv.key, e.kv.modRevision);
      else applied = this.absorb(e.kv, false) || applied;
    }
    if (revision > this.appliedRevision) this.appliedRevision = revision;
    if (applied) this.reportApplied();
    this.wake();
  }

  /** One key read at boot or seen by the watch. Returns whether it was a definitions batch. */
  private absorb(kv: Kv, atBoot: boolean): boolean {
    const sub = kv.key.slice(this.p.length);
    const slash = sub.indexOf("/");
    const kind = slash < 0 ? sub : sub.slice(0, slash);
    const name = slash < 0 ? "" : decodeURIComponent(sub.slice(slash + 1));
    try {
      switch (kind) {
        case "members":
          this.memberRecords.set(name, JSON.parse(kv.value) as MemberRecord);
          return false;
        case "live":
          this.liveRecords.set(name, JSON.parse(kv.value) as Record<string, unknown>);
          return false;
        case "applied":
          this.appliedBy.set(name, Number(kv.value));
          return false;
        case "quorum":
        case "qlead":
          this.repl.record(kind, kv.key, kv);
          // reported as applied like a definitions batch (declare-ok waits for every node to know the leader)
          return true;
        case "defs": {
          // commands as the broker serialised them (broker/commands.ts: field tables AMQP-encoded)
          const batch = JSON.parse(kv.value) as { origin: string; cmds: Record<string, unknown>[] };
          this.logCommands += batch.cmds.length - (this.logKeys.get(kv.key) ?? 0);
          this.logKeys.set(kv.key, batch.cmds.length);
          if (atBoot) {
            // homes are noted once the snapshot (which comes first) is read
            this.bootCommands.push(...batch.cmds);
          } else {
            for (const c of batch.cmds) this.noteHome(c);
            if (batch.origin !== this.nodeId) this.applyBatch(batch.cmds);
          }
          return true;
        }
        case "snapshot":
          // a running node applied everything the snapshot holds already (the watch delivers
          // the log before its deletion); a booting node reads the chunks (readSnapshot)
          this.snapHead = JSON.parse(kv.value) as SnapshotHead;
          return false;
        default:
          return false;
      }
    } catch (e) {
      this.log.warn(`cluster: skipped unreadable etcd key ${kv.key}: ${(e as Error).message}`);
      return false;
    }
  }

  private applyBatch(cmds: Record<string, unknown>[]): void {
    const b = this.broker;
    if (!b) return;
    this.applying = true;
    try {
      for (const c of cmds) {
        try {
          b.apply(decodeCommand(c), { origin: "peer" });
          if (c["op"] === "queue.declare" && typeof c["node"] === "string" && this.links) {
            const q = b.vhosts.get(String(c["vhost"]))?.queues.get(String(c["name"]));
            if (q && Array.isArray(c["members"])) this.repl.declared(q, c["members"] as string[], false);
            else if (q && q.remote === null && c["node"] !== this.nodeName) this.links.attach(q, c["node"], (n) => this.isRunning(n));
          }
        } catch (e) {
          // the same command failed on its origin's state too, or the two diverged: say so
          this.log.warn(`cluster: definition ${String(c["op"])} from another node not applied here: ${(e as Error).message}`);
        }
      }
    } finally {
      this.applying = false;
    }
  }

  /** RabbitMQ deletes a node's transient and exclusive queues when the node goes down. */
  private dropTransientQueuesOf(node: string): void {
    const b = this.broker;
    if (!b) return;
    for (const [key, home] of [...this.homes]) {
      if (home !== node) continue;
      const [vhost, name] = key.split("\u0000") as [string, string];
      const v = b.vhosts.get(vhost);
      const q = v?.queues.get(name);
      if (v && q && (!q.durable || q.exclusive)) v.removeQueue(q);
    }
  }

  private forgetKey(key: string, revision = 0): void {
    const sub = key.slice(this.p.length);
    const slash = sub.indexOf("/");
    if (slash < 0) return;
    const kind = sub.slice(0, slash);
    const name = decodeURIComponent(sub.slice(slash + 1));
    if (kind === "defs") {
      this.logCommands -= this.logKeys.get(key) ?? 0;
      this.logKeys.delete(key);
    } else if (kind === "members") this.memberRecords.delete(name);
    else if (kind === "live") {
      this.liveRecords.delete(name);
      if (name !== this.nodeName) this.dropTransientQueuesOf(name);
    } else if (kind === "applied") this.appliedBy.delete(name);
    else if (kind === "quorum" || kind === "qlead") this.repl.record(kind, key, null, revision);
  }

  /** Tell the others how far this node has applied the log (one put in flight at a time). */
  private reportApplied(): void {
    if (this.reportTimer || this.closed) return;
    this.reportTimer = setTimeout(() => {
      const rev = this.appliedRevision;
      this.etcd
        .txn([], [{ put: this.p + "applied/" + enc(this.nodeName), value: String(rev) }])
        .catch(() => {})
        .finally(() => {
          this.reportTimer = null;
          if (this.appliedRevision > rev) this.reportApplied();
        });
    }, 0);
  }

  async publishLive(): Promise<void> {
    if (!this.lease || this.closed) return;
    const info = this.infoSource();
    const amqpHost = (info["amqp"] as { host?: string } | undefined)?.host;
    const repl = this.repl.address ? { host: amqpHost ?? this.repl.address.host, port: this.repl.address.port } : undefined;
    const conns = this.ownCounts();
    const value = JSON.stringify({ id: this.nodeId, pid: process.pid, startedAt: this.startedAt, app: this.appRunning, ...info, ...(repl ? { repl } : {}), conns });
    const lease = this.lease;
    await this.etcd.txn([], [{ put: this.p + "live/" + enc(this.nodeName), value, lease: lease.id }]);
    // a write under a lease since lost does not count (leaseLost writes again under the new one)
    if (this.lease === lease) this.publishedCounts = JSON.stringify(conns);
  }

  /**
   * etcd cancelled the watch: the history this node would resume from was compacted while it
   * was cut off for longer than the retention (--etcd-compaction). It cannot know what changed,
   * so it stops serving clients (as pause_minority does) until it is restarted, which reads
   * the cluster's definitions afresh.
   */
  private lostTrack(err: Error): void {
    if (this.closed || this.stale) return;
    this.stale = true;
    this.log.error(
      `cluster: ${this.nodeName} can no longer follow the cluster's definitions (${err.message}; it was cut off from etcd for longer than etcd keeps history); it stops serving clients: restart it to rejoin`,
    );
    this.fence(true);
    // nor can it follow elections and in-sync sets: hand its quorum queues over and stop replicating
    void this.repl.close().catch(() => {});
  }

  private leaseLost(err: Error): void {
    if (this.closed) return;
    this.log.error(`cluster: lost the etcd lease (${err.message}); other nodes now see ${this.nodeName} as down. Taking a new one.`);
    void (async () => {
      for (let i = 0; !this.closed; i++) {
        try {
          this.lease = await this.etcd.lease(this.ttl, (e) => this.leaseLost(e));
          await this.publishLive();
          this.log.info(`cluster: ${this.nodeName} is running again in etcd`);
          return;
        } catch {
          await new Promise((r) => setTimeout(r, Math.min(5000, 200 * (i + 1))));
        }
      }
    })();
  }
}
