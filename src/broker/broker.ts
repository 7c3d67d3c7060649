/**
 * The broker: vhosts, users and permissions, and the persistence of durable
 * definitions. Knows nothing of sockets: the server (src/server) and the
 * management API (src/http) drive it; storage enters through the ports in
 * src/store/types.ts.
 *
 * Every definition change is a TopologyCommand (commands.ts) handed to apply(): the AMQP
 * handlers, the management API, definitions import and boot replay all use it. Durable
 * changes come back from the vhosts as commands and are appended to the definitions log,
 * which is compacted to a snapshot of the live definitions (snapshot()) when it has grown
 * past COMPACTION.factor times that and at clean shutdown.
 */
import type { FieldTable } from "../amqp/field-table.js";
import { accessRefused, notAllowed, notFound, type AmqpError } from "../amqp/errors.js";
import type { DefinitionsStore, MessageStore, RecoveredMessage } from "../store/types.js";
import { decodeProperties, type BasicProperties } from "../amqp/properties.js";
import { Message } from "./message.js";
import type { Logger } from "../lib/logger.js";
import { VHost, type VHostEvents } from "./vhost.js";
import { OPERATOR_POLICY_COMPONENT, matchOperatorPolicy, matchPolicy, withOperatorPolicy, type AppliedPolicy } from "./policy.js";
import type { Queue } from "./queue.js";
import { createHash } from "node:crypto";
import { hashPassword, knownGood, permits, rabbitSha256Hash, type Permission, type PermissionKind, type TopicPermission, type User, verifyPassword } from "./auth.js";
import { FREE_FAILURES, LoginGuard } from "./login-guard.js";
import { command, CommandFormatError, decodeCommand, encodeCommand, type ApplyContext, type TopologyCommand } from "./commands.js";
import type { Exchange } from "./exchanges/exchange.js";

/** What apply() returns per op (void for the others). */
export interface ApplyResults {
  "vhost.add": VHost;
  "exchange.declare": Exchange;
  "queue.declare": Queue;
  /** messages the deleted queue held */
  "queue.delete": number;
}
export type ApplyResult<C extends TopologyCommand> = C["op"] extends keyof ApplyResults ? ApplyResults[C["op"]] : undefined;

/**
 * When the definitions log is rewritten as a snapshot: once it holds more than `factor`
 * times the commands the live definitions need, and at least `minCommands` (a small log is
 * not worth a rewrite). Amortised, each appended command is rewritten at most 1/(factor-1) times.
 */
export const COMPACTION = { factor: 4, minCommands: 4096 };
import { Withdrawals } from "./withdraw.js";
import { checkChannelLimit, checkConnectionLimits, NO_OTHER_NODES, vhostLimit, type LimitedConnection } from "./limits.js";
import type { ClusterView } from "./cluster-view.js";

export interface BrokerOptions {
  store: MessageStore | null;
  definitions: DefinitionsStore | null;
  log: Logger;
  defaultUser?: string | undefined;
  defaultPass?: string | undefined;
  /** users allowed only from loopback (RabbitMQ's loopback_users), default ["guest"] */
  loopbackUsers?: string[] | undefined;
  /** largest message body accepted (RabbitMQ max_message_size, default 128 MiB) */
  maxMessageSize?: number | undefined;
  /**
   * keep each user's password also as RabbitMQ's salted SHA-256 so definitions exports import
   * into RabbitMQ with working passwords (off by default: that hash is fast to brute-force)
   */
  exportRabbitHashes?: boolean | undefined;
  /** when to compact the definitions log (default COMPACTION) */
  compaction?: { factor: number; minCommands: number } | undefined;
}

/** A live connection as the management API sees it (implemented by the server). */
export interface ConnectionInfo extends LimitedConnection {
  readonly id: number;
  readonly name: string;
  readonly userName: string;
  readonly vhostName: string;
  /** what the client announced in start-ok (connection_name, product, capabilities) */
  readonly clientProperties: FieldTable;
  info(): Record<string, unknown>;
  /** bytes received and sent: cheap (the rates sampler reads it for every connection every 5 s) */
  octets(): { recv: number; send: number };
  /** each channel's name and RabbitMQ message_stats counters, without describing the channel */
  channelStats(): Array<{ name: string; stats: Record<string, number> }>;
  channelsInfo(): Record<string, unknown>[];
  consumersInfo(): Record<string, unknown>[];
  close(reason: string): void;
}

/** The owner of another cluster member's exclusive queues on this node: no connection here. */
const REMOTE_OWNER = Object.freeze({ remote: true });

export class Broker implements VHostEvents {
  readonly vhosts = new Map<string, VHost>();
  /** nacked publishes taken back from their queues (withdraw.ts) */
  readonly withdrawals: Withdrawals;
  readonly users = new Map<string, User>();
  /**
   * Connections the broker makes to itself (the embedded Fleet collector), set by the
   * composition root. Management listings leave them out unless asked (?internal=true),
   * so RabbitMQ tooling sees a fresh broker without connections.
   */
  isInternalConnection: (c: ConnectionInfo) => boolean = () => false;
  /** the cluster's node-link user (set by cluster.ts): its connections neither count toward nor are refused by limits */
  linkUser: string | null = null;
  /** key: vhost \0 user */
  readonly permissions = new Map<string, Permission>();
  /** bumped on every change to `permissions`: channels cache their last granted check against it */
  permissionsVersion = 0;
  readonly topicPermissions: TopicPermission[] = [];
  readonly connections = new Set<ConnectionInfo>();
  readonly log: Logger;
  readonly store: MessageStore | null;
  readonly loopbackUsers: string[];
  readonly maxMessageSize: number;
  /** per-source throttle and concurrency limit for password checks (AMQP and HTTP) */
  readonly loginGuard = new LoginGuard();
  readonly exportRabbitHashes: boolean;
  readonly startedAt = Date.now();
  /**
   * Global counters (management overview, Prometheus). They only grow: closed
   * connections/channels are created − live, created queues are live + deleted.
   * `deliver`/`get` count both ack modes; the *NoAck ones the automatic-ack share.
   */
  readonly totals = {
    connectionsCreated: 0,
    channelsCreated: 0,
    queuesDeclared: 0,
    queuesDeleted: 0,
    publish: 0,
    receivedConfirm: 0,
    confirmed: 0,
    routed: 0,
    dropUnroutable: 0,
    returnUnroutable: 0,
    deliver: 0,
    deliverNoAck: 0,
    get: 0,
    getNoAck: 0,
    getEmpty: 0,
    ack: 0,
    redeliver: 0,
  };
  /** the resource alarms' thresholds and the data directory, for /api/nodes and Prometheus (set by main) */
  resourceLimits: { memoryHighWatermark: number; diskFreeLimit: number; dataDir: string | null } = { memoryHighWatermark: 0, diskFreeLimit: 0, dataDir: null };
  private readonly defs: DefinitionsStore | null;
  private replaying = false;
  private readonly compaction: { factor: number; minCommands: number };
  /** commands in the last snapshot (the live definitions' size then) */
  private liveCommands = 0;
  /** apply() calls in progress: compaction waits until the outermost returns (state consistent) */
  private applyDepth = 0;
  private compactionScheduled = false;
  /** the cluster this node is a member of (set by main when started with etcd), else null */
  cluster: ClusterView | null = null;
  /** connections blocked by a resource alarm (set by the alarm monitor) */
  alarms = new Set<string>();
  private alarmListeners = new Set<(active: boolean) => void>();

  constructor(private readonly opts: BrokerOptions) {
    this.log = opts.log;
    this.store = opts.store;
    this.defs = opts.definitions;
    this.loopbackUsers = opts.loopbackUsers ?? ["guest"];
    this.maxMessageSize = opts.maxMessageSize ?? 128 * 1024 * 1024;
    this.exportRabbitHashes = opts.exportRabbitHashes ?? false;
    this.compaction = opts.compaction ?? COMPACTION;
    this.withdrawals = new Withdrawals(this.vhosts, (line) => this.log.warn(line));
  }

  /** Replay definitions and recover messages; create defaults on first boot. */
  boot(): { recoveredMessages: number; durableQueues: number } {
    const records = this.defs?.load() ?? [];
    this.replaying = true;
    try {
      for (const r of records) {
        let c: TopologyCommand;
        try {
          c = decodeCommand(r);
        } catch (e) {
          // a newer warren's log: refuse to start rather than drop what we cannot read
          if (e instanceof CommandFormatError && /newer/.test(e.message)) throw e;
          this.log.warn(`definitions replay: skipped a record: ${(e as Error).message}`);
          continue;
        }
        try {
          this.apply(c, { origin: "replay" });
        } catch (e) {
          this.log.warn(`definitions replay: skipped ${c.op}: ${(e as Error).message}`);
        }
      }
    } finally {
      this.replaying = false;
    }
    if (records.length === 0 && this.users.size === 0) {
      const user = this.opts.defaultUser ?? "guest";
      const pass = this.opts.defaultPass ?? "guest";
      const boot: ApplyContext = { origin: "import" };
      this.apply(command("vhost.add", { name: "/", description: "", tags: [] }), boot);
      this.apply(command("user.add", { name: user, ...hashPassword(pass, this.exportRabbitHashes), tags: ["administrator"] }), boot);
      this.apply(command("permission.set", { user, vhost: "/", configure: ".*", write: ".*", read: ".*" }), boot);
    }
    if (!this.exportRabbitHashes) {
      // weak RabbitMQ-format hashes kept by an earlier run: drop them unless the operator asks for them
      for (const u of [...this.users.values()]) {
        if (u.hashingAlgorithm !== "warren_scrypt" || !u.exportHash) continue;
        const { exportHash: _weak, ...strong } = u;
        this.putUser(strong);
      }
    }
    let recovered = 0;
    let durableQueues = 0;
    if (this.store) {
      const byQueue = this.store.recover();
      const props = new RecoveredMessages();
      for (const vh of this.vhosts.values()) {
        for (const q of vh.queues.values()) {
          if (!q.durable) continue;
          durableQueues++;
          const msgs = byQueue.get(q.key);
          if (!msgs) continue;
          byQueue.delete(q.key);
          for (let i = 0; i < msgs.length; i++) {
            // redelivered only where it had been delivered before (the store's delivered marks)
            const rm = msgs[i]!;
            q.restore(props.message(rm), rm.deliveredIn !== undefined && rm.deliveredIn.includes(q.key));
            // drop the store's record as soon as the queue holds the message: with millions of
            // recovered messages, keeping both copies until the end doubled the peak heap
            msgs[i] = null as unknown as RecoveredMessage;
            recovered++;
          }
        }
      }
      // messages of queues that no longer exist: release them
      for (const key of byQueue.keys()) this.store.deleteQueue(key);
    }
    // a log that grew in earlier runs (or one from before compaction existed) is rewritten now
    this.liveCommands = this.snapshot().length;
    this.maybeCompact();
    return { recoveredMessages: recovered, durableQueues };
  }

  // ---- the one entry point for definition changes ---------------------------

  /**
   * Apply one topology command. `ctx` says who asks (see ApplyContext: the rules for
   * 'amq.*' names and other queue types' arguments depend on it) and carries what is local
   * to this node (the owner of an exclusive queue). Permission checks are the caller's:
   * they depend on the user. Throws AmqpError with RabbitMQ's code and text.
   */
  apply<C extends TopologyCommand>(c: C, ctx: ApplyContext): ApplyResult<C> {
    this.applyDepth++;
    try {
      return this.applyOne(c, ctx) as ApplyResult<C>;
    } finally {
      if (--this.applyDepth === 0) this.maybeCompact();
    }
  }

  private applyOne(c: TopologyCommand, ctx: ApplyContext): unknown {
    // another cluster member's exclusive queues are owned here by no connection (REMOTE_OWNER);
    // that member's own commands about them (bind, delete) come as that owner
    const owner = ctx.origin === "peer" ? REMOTE_OWNER : (ctx.owner ?? null);
    switch (c.op) {
      case "vhost.add":
        return this.addVhost(c.name, c.description, c.tags);
      case "vhost.update":
        return this.updateVhost(c.name, c.description, c.tags);
      case "vhost.delete":
        return this.deleteVhost(c.name);
      case "user.add": {
        const { op: _op, ...user } = c;
        return this.putUser(user);
      }
      case "user.delete":
        return this.deleteUser(c.name);
      case "permission.set":
        return this.setPermission({ user: c.user, vhost: c.vhost, configure: c.configure, write: c.write, read: c.read });
      case "permission.clear":
        return this.clearPermission(c.user, c.vhost);
      case "topic-permission.set":
        return this.setTopicPermission({ user: c.user, vhost: c.vhost, exchange: c.exchange, write: c.write, read: c.read });
      case "topic-permission.clear":
        return this.clearTopicPermission(c.user, c.vhost, c.exchange);
      case "exchange.declare":
        return this.getVhost(c.vhost).declareExchange(c.name, c.type, { durable: c.durable, autoDelete: c.autoDelete, internal: c.internal, arguments: c.arguments });
      case "exchange.delete":
        return this.getVhost(c.vhost).deleteExchange(c.name, c.ifUnused === true);
      case "queue.declare": {
        const reserved = ctx.origin === "amqp" ? "always" : ctx.origin === "http" ? "new" : "never";
        const opts = { durable: c.durable, exclusive: c.exclusive === true, autoDelete: c.autoDelete, arguments: c.arguments };
        return this.getVhost(c.vhost).declareQueue(c.name, opts, owner, ctx.serverNamed === true, reserved);
      }
      case "queue.delete":
        return this.getVhost(c.vhost).deleteQueue(c.name, c.ifUnused === true, c.ifEmpty === true, owner);
      case "bind":
        return this.getVhost(c.vhost).bind(c.destinationType, c.destination, c.source, c.routingKey, c.arguments, owner);
      case "unbind":
        return this.getVhost(c.vhost).unbind(c.destinationType, c.destination, c.source, c.routingKey, c.arguments, owner);
      case "policy.set":
      case "parameter.set":
      case "global-parameter.set":
        return this.setStoredParameter(c);
      case "policy.clear":
      case "parameter.clear":
      case "global-parameter.clear":
        return this.clearStoredParameter(c);
      default: {
        const never: never = c;
        throw new Error(`unknown definition command ${String((never as { op: unknown }).op)}`);
      }
    }
  }

  /** VHostEvents: a cluster member shares transient definitions too */
  get shareAll(): boolean {
    return this.cluster !== null;
  }

  /** VHostEvents: a durable definition changed. */
  definitionChanged(cmd: TopologyCommand): void {
    if (this.replaying || !this.defs) return;
    this.defs.append(encodeCommand(cmd));
    // changes outside apply() (a queue expiring, an auto-delete) get their check a turn later
    if (this.applyDepth === 0 && !this.compactionScheduled) {
      this.compactionScheduled = true;
      setImmediate(() => {
        this.compactionScheduled = false;
        this.maybeCompact();
      });
    }
  }

  // ---- definitions log compaction --------------------------------------------

  /**
   * Commands that recreate today's durable definitions from nothing, in an order that
   * replays (vhosts and users before what refers to them, exchanges and queues before
   * bindings). This is the definitions log's snapshot. `shared`: also the transient and
   * exclusive definitions a cluster shares (shareAll), for the cluster's log in etcd.
   */
  snapshot(shared = false): TopologyCommand[] {
    const out: TopologyCommand[] = [];
    for (const v of this.vhosts.values()) out.push(command("vhost.add", { name: v.name, description: v.meta.description, tags: v.meta.tags }));
    for (const { name, passwordHash, hashingAlgorithm, tags, exportHash, limits } of this.users.values()) {
      out.push(command("user.add", { name, passwordHash, hashingAlgorithm, tags, ...(exportHash ? { exportHash } : {}), ...(limits && Object.keys(limits).length > 0 ? { limits } : {}) }));
    }
    for (const p of this.permissions.values()) out.push(command("permission.set", { user: p.user, vhost: p.vhost, configure: p.configure, write: p.write, read: p.read }));
    for (const t of this.topicPermissions) out.push(command("topic-permission.set", { user: t.user, vhost: t.vhost, exchange: t.exchange, write: t.write, read: t.read }));
    for (const [key, value] of this.globalParameters) out.push(command("global-parameter.set", { name: splitParameterKey(key).name, value }));
    for (const [key, value] of this.parameters) out.push(command("parameter.set", { ...splitParameterKey(key), value }));
    for (const [key, value] of this.policies) {
      const { vhost, name } = splitParameterKey(key);
      out.push(command("policy.set", { vhost, name, value }));
    }
    for (const v of this.vhosts.values()) {
      for (const ex of v.exchanges.values()) {
        if ((!ex.durable && !shared) || ex.name === "" || ex.name.startsWith("amq.")) continue;
        out.push(command("exchange.declare", { vhost: v.name, name: ex.name, type: ex.type, durable: ex.durable, autoDelete: ex.autoDelete, internal: ex.internal, arguments: ex.options.arguments }));
      }
      for (const q of v.queues.values()) {
        if (q.durable && !q.exclusive) out.push(command("queue.declare", { vhost: v.name, name: q.name, durable: true, autoDelete: q.autoDelete, arguments: q.arguments }));
        else if (shared) out.push(command("queue.declare", { vhost: v.name, name: q.name, durable: q.durable, exclusive: q.exclusive, autoDelete: q.autoDelete, arguments: q.arguments }));
      }
      for (const ex of v.exchanges.values()) {
        if (!ex.durable && !shared) continue;
        for (const b of ex.bindings.values()) {
          const d = b.destination;
          if (!shared && (d.kind === "queue" ? !(d as Queue).durable || (d as Queue).exclusive : !(d as Exchange).durable)) continue;
          out.push(command("bind", { vhost: v.name, source: ex.name, destination: d.name, destinationType: d.kind, routingKey: b.routingKey, arguments: b.arguments }));
        }
      }
    }
    return out;
  }

  /**
   * Rewrite the definitions log as snapshot() if it holds anything more (clean shutdown),
   * or only when it has outgrown the live definitions (`force` false).
   */
  compactDefinitions(force = true): void {
    if (!this.defs) return;
    const snap = this.snapshot();
    // the next threshold counts from the definitions as they are now, whatever is decided here:
    // left at an older, smaller figure while the definitions only grew (no deletes, so nothing to
    // drop), every later command built a whole snapshot again (10,000 agents enrolling: 70 % of
    // the broker's CPU, start-up 4-6x slower)
    this.liveCommands = snap.length;
    if (this.defs.count <= snap.length) return; // nothing to drop
    if (!force && this.defs.count <= Math.max(this.compaction.minCommands, this.compaction.factor * snap.length)) return;
    this.defs.compact(snap.map(encodeCommand));
  }

  private maybeCompact(): void {
    if (this.replaying || !this.defs) return;
    // cheap test first: only when the log passed the threshold set by the last snapshot is one built
    if (this.defs.count <= Math.max(this.compaction.minCommands, this.compaction.factor * this.liveCommands)) return;
    try {
      this.compactDefinitions(false);
    } catch (e) {
      // the old log is intact (compaction writes a new file and renames it in); retry at the next threshold
      this.liveCommands = Math.ceil(this.defs.count / this.compaction.factor);
      this.log.error(`definitions log compaction failed: ${(e as Error).message}`);
    }
  }

  queueDeleted(q: Queue): void {
    this.totals.queuesDeleted++;
    for (const c of [...q.consumers]) {
      q.removeConsumer(c);
      c.host.cancelledByServer(c);
    }
  }

  /** Wait until appended definitions are on disk. */
  syncDefinitions(cb: (err?: Error) => void): void {
    if (this.defs) this.defs.sync(cb);
    else cb();
  }

  // ---- policies and runtime parameters (stored and exported; see parameterKey) ----

  /**
   * Policies, vhost-scoped runtime parameters (component/vhost/name) and global
   * parameters, kept as the management API's JSON objects so definitions move
   * between RabbitMQ and warren unchanged. Stored and persisted only: warren does
   * applies policies to queues and exchanges (src/broker/policy.ts).
   */
  readonly policies = new Map<string, Record<string, unknown>>();
  readonly parameters = new Map<string, Record<string, unknown>>();
  readonly globalParameters = new Map<string, Record<string, unknown>>();

  private parameterMap(op: TopologyCommand["op"]): Map<string, Record<string, unknown>> {
    const kind = op.split(".")[0];
    return kind === "policy" ? this.policies : kind === "parameter" ? this.parameters : this.globalParameters;
  }

  /** component \0 vhost \0 name ("" for what the kind has not: a policy's component, a global parameter's vhost) */
  static parameterKey(c: { component?: string; vhost?: string; name: string }): string {
    return `${c.component ?? ""}\u0000${c.vhost ?? ""}\u0000${c.name}`;
  }

  private setStoredParameter(c: Extract<TopologyCommand, { op: "policy.set" | "parameter.set" | "global-parameter.set" }>): void {
    if ("vhost" in c) this.getVhost(c.vhost);
    this.parameterMap(c.op).set(Broker.parameterKey(c), c.value);
    this.definitionChanged(c);
    if (touchesPolicies(c)) this.vhosts.get(c.vhost)?.reapplyPolicies();
  }

  policyFor(vhost: string, kind: "queue" | "exchange", name: string, queueType?: string): AppliedPolicy | undefined {
    const user = this.policies.size === 0 ? undefined : matchPolicy(this.policies.values(), vhost, kind, name, queueType);
    // operator policies only carry queue settings
    if (kind !== "queue" || this.parameters.size === 0) return user;
    return withOperatorPolicy(user, matchOperatorPolicy(this.parameters.values(), vhost, name, queueType));
  }

  queueLimit(vhost: string): number | undefined {
    return vhostLimit(this.parameters, vhost, "max-queues");
  }

  private clearStoredParameter(c: Extract<TopologyCommand, { op: "policy.clear" | "parameter.clear" | "global-parameter.clear" }>): void {
    if (!this.parameterMap(c.op).delete(Broker.parameterKey(c))) throw notFound(`no ${c.op.split(".")[0]} '${c.name}'`);
    this.definitionChanged(c);
    if (touchesPolicies(c)) this.vhosts.get(c.vhost)?.reapplyPolicies();
  }

  // ---- vhosts ------------------------------------------------------------

  getVhost(name: string): VHost {
    const v = this.vhosts.get(name);
    if (!v) throw notFound(`no vhost '${name}'`);
    return v;
  }

  private addVhost(name: string, description: string, tags: string[]): VHost {
    const existing = this.vhosts.get(name);
    if (existing) return existing;
    const v = new VHost(name, this.store, this, { description, tags });
    this.vhosts.set(name, v);
    this.definitionChanged(command("vhost.add", { name, description, tags }));
    return v;
  }

  private updateVhost(name: string, description: string, tags: string[]): void {
    const v = this.getVhost(name);
    v.meta.description = description;
    v.meta.tags = tags;
    this.definitionChanged(command("vhost.update", { name, description, tags }));
  }

  private deleteVhost(name: string): void {
    const v = this.getVhost(name);
    for (const c of [...this.connections]) if (c.vhostName === name) c.close(`vhost '${name}' is deleted`);
    v.destroy();
    this.vhosts.delete(name);
    for (const k of [...this.permissions.keys()]) if (k.startsWith(name + "\u0000")) this.permissions.delete(k);
    this.permissionsVersion++;
    for (const m of [this.policies, this.parameters]) for (const [k, v] of [...m]) if (v["vhost"] === name) m.delete(k);
    this.definitionChanged(command("vhost.delete", { name }));
  }

  // ---- users and permissions ----------------------------------------------

  private putUser(u: User): void {
    this.users.set(u.name, u);
    this.definitionChanged(
      command("user.add", {
        name: u.name,
        passwordHash: u.passwordHash,
        hashingAlgorithm: u.hashingAlgorithm,
        tags: u.tags,
        ...(u.exportHash ? { exportHash: u.exportHash } : {}),
        ...(u.limits && Object.keys(u.limits).length > 0 ? { limits: u.limits } : {}),
      }),
    );
  }

  private deleteUser(name: string): void {
    if (!this.users.delete(name)) throw notFound(`no user '${name}'`);
    for (const [k, p] of [...this.permissions]) if (p.user === name) this.permissions.delete(k);
    this.permissionsVersion++;
    for (const c of [...this.connections]) if (c.userName === name) c.close(`user '${name}' is deleted`);
    this.definitionChanged(command("user.delete", { name }));
  }

  private setPermission(p: Permission): void {
    if (!this.users.has(p.user)) throw notFound(`no user '${p.user}'`);
    this.getVhost(p.vhost);
    this.permissions.set(`${p.vhost}\u0000${p.user}`, p);
    this.permissionsVersion++;
    this.definitionChanged(command("permission.set", { user: p.user, vhost: p.vhost, configure: p.configure, write: p.write, read: p.read }));
  }

  private clearPermission(user: string, vhost: string): void {
    this.permissions.delete(`${vhost}\u0000${user}`);
    this.permissionsVersion++;
    this.definitionChanged(command("permission.clear", { user, vhost }));
  }

  private setTopicPermission(p: TopicPermission): void {
    this.clearTopicPermission(p.user, p.vhost, p.exchange, false);
    this.topicPermissions.push(p);
    this.definitionChanged(command("topic-permission.set", { user: p.user, vhost: p.vhost, exchange: p.exchange, write: p.write, read: p.read }));
  }

  private clearTopicPermission(user: string, vhost: string, exchange?: string, log = true): void {
    for (let i = this.topicPermissions.length - 1; i >= 0; i--) {
      const t = this.topicPermissions[i]!;
      if (t.user === user && t.vhost === vhost && (exchange === undefined || t.exchange === exchange)) this.topicPermissions.splice(i, 1);
    }
    if (log) this.definitionChanged(command("topic-permission.clear", { user, vhost, ...(exchange === undefined ? {} : { exchange }) }));
  }

  /**
   * PLAIN/AMQPLAIN login (also the management API's basic auth). Resolves to the user or
   * rejects with ACCESS_REFUSED and RabbitMQ's text; `loopback` is whether the peer
   * address is a loopback one, `address` the peer address failures are counted under.
   * A password verified before skips the throttle, so an attacker hammering from a
   * client's address never locks that client out.
   */
  async authenticate(name: string, password: string, loopback: boolean, address?: string): Promise<User> {
    const refused = (): AmqpError => accessRefused(`Login was refused using authentication mechanism PLAIN. For details see the broker logfile.`);
    const source = LoginGuard.sourceOf(address);
    const u = this.users.get(name);
    if (!u || !knownGood(u, password)) {
      if (this.loginGuard.lockedFor(source) > 0) {
        this.loginGuard.throttled++;
        throw refused();
      }
      let ok = false;
      if (u) {
        try {
          ok = await this.verifyOnce(u, password);
        } catch {
          throw refused(); // too many logins already waiting for a hash
        }
      }
      // the user may have been deleted or given a new password while we hashed
      if (!ok || this.users.get(name)?.passwordHash !== u!.passwordHash) {
        this.loginGuard.failed(source);
        if (this.loginGuard.lockedFor(source) > 0 && this.loginGuard.failuresOf(source) === FREE_FAILURES) {
          this.log.warn(`login: ${FREE_FAILURES} failed logins from ${source} within a minute; refusing its logins for a while`);
        }
        throw refused();
      }
    }
    if (!loopback && this.loopbackUsers.includes(name)) throw refused();
    // the operator wants RabbitMQ-importable exports: make the hash for a user that predates it
    if (this.exportRabbitHashes && u!.hashingAlgorithm === "warren_scrypt" && !u!.exportHash) this.putUser({ ...u!, exportHash: rabbitSha256Hash(password) });
    return this.users.get(name)!;
  }

  /**
   * Logins racing with the same user and password share one hash: 10,000 agents connecting at
   * once with one credential cost one scrypt, not 10,000 in the guard's queue (whose bound would
   * refuse most of them before the first hash had filled the cache).
   */
  private readonly hashing = new Map<string, Promise<boolean>>();

  private verifyOnce(u: User, password: string): Promise<boolean> {
    const key = `${u.name}\u0000${u.passwordHash}\u0000${createHash("sha256").update(password).digest("hex")}`;
    let p = this.hashing.get(key);
    if (!p) {
      p = this.loginGuard.hashSlot(() => verifyPassword(u, password));
      this.hashing.set(key, p);
      const done = (): void => void this.hashing.delete(key);
      p.then(done, done);
    }
    return p;
  }

  /** connection.open: may `user` use `vhost`? (permissions, then the vhost's and the user's connection limits) */
  checkVhostAccess(user: string, vhost: string): VHost {
    const v = this.vhosts.get(vhost);
    if (!v) throw notAllowed(`vhost ${vhost} not found`);
    if (!this.permissions.has(`${vhost}\u0000${user}`)) {
      throw notAllowed(`access to vhost '${vhost}' refused for user '${user}'`);
    }
    const u = this.users.get(user);
    if (u !== undefined) checkConnectionLimits(this.connections, this.parameters, u, vhost, this.linkUser, this.cluster?.otherNodesCounts() ?? NO_OTHER_NODES);
    return v;
  }

  /** channel.open: the user's channel limit (the connection's own channel_max is checked by the connection). */
  checkChannelLimit(user: string): void {
    const u = this.users.get(user);
    if (u !== undefined && u.limits !== undefined && user !== this.linkUser) checkChannelLimit(this.connections, u, this.cluster?.otherNodesCounts() ?? NO_OTHER_NODES);
  }

  /** RabbitMQ's resource check; resource name "" (default exchange) is checked as "amq.default". */
  checkPermission(user: string, vhost: string, kind: PermissionKind, resourceKind: "queue" | "exchange", name: string): void {
    const p = this.permissions.get(`${vhost}\u0000${user}`);
    const resource = resourceKind === "exchange" && name === "" ? "amq.default" : name;
    if (!p || !permits(p[kind], resource)) {
      throw accessRefused(`${kind} access to ${resourceKind} '${resource}' in vhost '${vhost}' refused for user '${user}'`);
    }
  }

  /** Topic authorisation (topic exchanges only), on publish (write) and bind (read). */
  checkTopicPermission(user: string, vhost: string, kind: "write" | "read", exchange: string, routingKey: string): void {
    if (this.topicPermissions.length === 0) return;
    for (const t of this.topicPermissions) {
      if (t.user !== user || t.vhost !== vhost || t.exchange !== exchange) continue;
      if (!permits(t[kind], routingKey)) {
        throw accessRefused(`${kind} access to topic '${routingKey}' in exchange '${exchange}' in vhost '${vhost}' refused for user '${user}'`);
      }
    }
  }

  // ---- resource alarms ------------------------------------------------------

  setAlarm(name: string, active: boolean): void {
    const was = this.alarms.size > 0;
    if (active) this.alarms.add(name);
    else this.alarms.delete(name);
    const now = this.alarms.size > 0;
    if (was !== now) for (const l of this.alarmListeners) l(now);
  }

  onAlarm(l: (active: boolean) => void): () => void {
    this.alarmListeners.add(l);
    return () => this.alarmListeners.delete(l);
  }
}

/**
 * Turns the store's recovered records into Messages. The store shares one propertiesRaw buffer
 * between consecutive records with identical properties; decoding it once per buffer (not once
 * per message) keeps a recovered backlog as small in memory as a live one (~260 B per message).
 */
class RecoveredMessages {
  private lastRaw: Buffer | null = null;
  private lastProps: BasicProperties | null = null;
  private readonly now = Date.now();

  message(m: RecoveredMessage): Message {
    if (m.propertiesRaw !== this.lastRaw) {
      this.lastRaw = m.propertiesRaw;
      this.lastProps = decodeProperties(m.propertiesRaw, 0, m.propertiesRaw.length);
    }
    const msg = new Message(m.exchange, m.routingKey, this.lastProps!, m.propertiesRaw, m.body, m.bodySize, this.now);
    msg.storeId = m.storeId;
    return msg;
  }
}

function splitParameterKey(key: string): { component: string; vhost: string; name: string } {
  const [component = "", vhost = "", name = ""] = key.split("\u0000");
  return { component, vhost, name };
}

/** Does this parameter change affect which policies queues get? (policies and operator policies) */
function touchesPolicies(c: TopologyCommand): c is Extract<TopologyCommand, { vhost: string }> {
  return c.op.startsWith("policy.") || ("component" in c && c.component === OPERATOR_POLICY_COMPONENT);
}
