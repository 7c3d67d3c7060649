/**
 * The broker: vhosts, users and permissions, and the persistence of durable
 * definitions. Knows nothing of sockets: the server (src/server) and the
 * management API (src/http) drive it; storage enters through the ports in
 * src/store/types.ts.
 *
 * Every definition change goes through apply(), which is also what replays the
 * definitions log at boot and what definitions import uses — one code path.
 */
import type { FieldTable } from "../amqp/field-table.js";
import { accessRefused, notAllowed, notFound, type AmqpError } from "../amqp/errors.js";
import type { DefinitionsStore, MessageStore, RecoveredMessage } from "../store/types.js";
import { decodeProperties, type BasicProperties } from "../amqp/properties.js";
import { Message } from "./message.js";
import { Logger } from "../lib/logger.js";
import { VHost, type VHostEvents } from "./vhost.js";
import { OPERATOR_POLICY_COMPONENT, matchOperatorPolicy, matchPolicy, withOperatorPolicy, type AppliedPolicy, type PolicyValue } from "./policy.js";
import type { Queue } from "./queue.js";
import { hashPassword, knownGood, permits, rabbitSha256Hash, type HashAlgorithm, type Permission, type PermissionKind, type TopicPermission, type User, verifyPassword } from "./auth.js";
import { FREE_FAILURES, LoginGuard } from "./login-guard.js";
import { Withdrawals } from "./withdraw.js";
import { checkChannelLimit, checkConnectionLimits, vhostLimit, type LimitedConnection } from "./limits.js";
import type { ClusterView } from "./cluster-view.js";

export interface BrokerOptions {
  store: MessageStore | null;
  definitions: DefinitionsStore | null;
  log: Logger;
  defaultUser?: string;
  defaultPass?: string;
  /** users allowed only from loopback (RabbitMQ's loopback_users), default ["guest"] */
  loopbackUsers?: string[];
  /** largest message body accepted (RabbitMQ max_message_size, default 128 MiB) */
  maxMessageSize?: number;
  /**
   * keep each user's password also as RabbitMQ's salted SHA-256 so definitions exports import
   * into RabbitMQ with working passwords (off by default: that hash is fast to brute-force)
   */
  exportRabbitHashes?: boolean;
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
    connectionsCreated: 0, channelsCreated: 0, queuesDeclared: 0, queuesDeleted: 0,
    publish: 0, receivedConfirm: 0, confirmed: 0, routed: 0, dropUnroutable: 0, returnUnroutable: 0,
    deliver: 0, deliverNoAck: 0, get: 0, getNoAck: 0, getEmpty: 0, ack: 0, redeliver: 0,
  };
  /** the resource alarms' thresholds and the data directory, for /api/nodes and Prometheus (set by main) */
  resourceLimits: { memoryHighWatermark: number; diskFreeLimit: number; dataDir: string | null } = { memoryHighWatermark: 0, diskFreeLimit: 0, dataDir: null };
  private readonly defs: DefinitionsStore | null;
  private replaying = false;
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
    this.withdrawals = new Withdrawals(this.vhosts, (line) => this.log.warn(line));
  }

  /** Replay definitions and recover messages; create defaults on first boot. */
  boot(): { recoveredMessages: number; durableQueues: number } {
    const cmds = this.defs?.load() ?? [];
    this.replaying = true;
    try {
      for (const c of cmds) {
        try {
          this.apply(c);
        } catch (e) {
          this.log.warn(`definitions replay: skipped ${String(c["op"])}: ${(e as Error).message}`);
        }
      }
    } finally {
      this.replaying = false;
    }
    if (cmds.length === 0 && this.users.size === 0) {
      const user = this.opts.defaultUser ?? "guest";
      const pass = this.opts.defaultPass ?? "guest";
      this.apply({ op: "vhost.add", name: "/" });
      this.apply({ op: "user.add", name: user, ...hashPassword(pass, this.exportRabbitHashes), tags: ["administrator"] });
      this.apply({ op: "permission.set", user, vhost: "/", configure: ".*", write: ".*", read: ".*" });
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
    return { recoveredMessages: recovered, durableQueues };
  }

  // ---- the one entry point for definition changes ---------------------------

  apply(c: Record<string, unknown>): void {
    const s = (k: string) => String(c[k] ?? "");
    switch (c["op"]) {
      case "vhost.add":
        this.addVhost(s("name"), (c["description"] as string) ?? "", (c["tags"] as string[]) ?? []);
        return;
      case "vhost.delete":
        this.deleteVhost(s("name"));
        return;
      case "user.add":
        this.putUser({
          name: s("name"),
          passwordHash: s("passwordHash"),
          hashingAlgorithm: (c["hashingAlgorithm"] as HashAlgorithm) ?? "warren_scrypt",
          tags: (c["tags"] as string[]) ?? [],
          ...(typeof c["exportHash"] === "string" ? { exportHash: c["exportHash"] } : {}),
          ...(c["limits"] && typeof c["limits"] === "object" ? { limits: c["limits"] as Record<string, number> } : {}),
        });
        return;
      case "user.delete":
        this.deleteUser(s("name"));
        return;
      case "permission.set":
        this.setPermission({ user: s("user"), vhost: s("vhost"), configure: s("configure"), write: s("write"), read: s("read") });
        return;
      case "permission.clear":
        this.clearPermission(s("user"), s("vhost"));
        return;
      case "topic-permission.set":
        this.setTopicPermission({ user: s("user"), vhost: s("vhost"), exchange: s("exchange"), write: s("write"), read: s("read") });
        return;
      case "topic-permission.clear":
        this.clearTopicPermission(s("user"), s("vhost"), c["exchange"] as string | undefined);
        return;
      case "exchange.declare":
        this.getVhost(s("vhost")).declareExchange(s("name"), s("type"), {
          durable: c["durable"] !== false, autoDelete: c["autoDelete"] === true, internal: c["internal"] === true, arguments: (c["arguments"] as FieldTable) ?? {},
        }, false);
        return;
      case "exchange.delete":
        this.getVhost(s("vhost")).deleteExchange(s("name"), false);
        return;
      case "queue.declare":
        // an exclusive queue of another cluster member: owned by nobody here, so no one here may use it
        this.getVhost(s("vhost")).declareQueue(s("name"), { durable: c["durable"] !== false, exclusive: c["exclusive"] === true, autoDelete: c["autoDelete"] === true, arguments: (c["arguments"] as FieldTable) ?? {} }, c["exclusive"] === true ? REMOTE_OWNER : null, false, false, "never");
        return;
      case "queue.delete":
        this.getVhost(s("vhost")).deleteQueue(s("name"), false, false, null);
        return;
      case "bind":
        this.getVhost(s("vhost")).bind(c["destinationType"] === "exchange" ? "exchange" : "queue", s("destination"), s("source"), s("routingKey"), (c["arguments"] as FieldTable) ?? {}, null);
        return;
      case "unbind":
        this.getVhost(s("vhost")).unbind(c["destinationType"] === "exchange" ? "exchange" : "queue", s("destination"), s("source"), s("routingKey"), (c["arguments"] as FieldTable) ?? {}, null);
        return;
      case "policy.set":
      case "parameter.set":
      case "global-parameter.set":
        this.setStoredParameter(c);
        return;
      case "policy.clear":
      case "parameter.clear":
      case "global-parameter.clear":
        this.clearStoredParameter(c);
        return;
      default:
        throw new Error(`unknown definition command ${String(c["op"])}`);
    }
  }

  /** VHostEvents: a cluster member shares transient definitions too */
  get shareAll(): boolean {
    return this.cluster !== null;
  }

  /** VHostEvents: a durable definition changed. */
  definitionChanged(cmd: Record<string, unknown>): void {
    if (!this.replaying) this.defs?.append(cmd);
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

  private parameterMap(op: unknown): Map<string, Record<string, unknown>> {
    const kind = String(op).split(".")[0];
    return kind === "policy" ? this.policies : kind === "parameter" ? this.parameters : this.globalParameters;
  }

  static parameterKey(c: Record<string, unknown>): string {
    return [c["component"] ?? "", c["vhost"] ?? "", c["name"] ?? ""].map(String).join("\u0000");
  }

  private setStoredParameter(c: Record<string, unknown>): void {
    if (c["vhost"] !== undefined) this.getVhost(String(c["vhost"]));
    const value = (c["value"] ?? {}) as Record<string, unknown>;
    this.parameterMap(c["op"]).set(Broker.parameterKey(c), value);
    this.definitionChanged(c);
    if (Broker.touchesPolicies(c)) this.vhosts.get(String(c["vhost"]))?.reapplyPolicies();
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

  /** Does this parameter change affect which policies queues get? (policies and operator policies) */
  private static touchesPolicies(c: Record<string, unknown>): boolean {
    return String(c["op"]).startsWith("policy.") || c["component"] === OPERATOR_POLICY_COMPONENT;
  }

  private clearStoredParameter(c: Record<string, unknown>): void {
    if (!this.parameterMap(c["op"]).delete(Broker.parameterKey(c))) throw notFound(`no ${String(c["op"]).split(".")[0]} '${String(c["name"])}'`);
    this.definitionChanged(c);
    if (Broker.touchesPolicies(c)) this.vhosts.get(String(c["vhost"]))?.reapplyPolicies();
  }

  // ---- vhosts ------------------------------------------------------------

  getVhost(name: string): VHost {
    const v = this.vhosts.get(name);
    if (!v) throw notFound(`no vhost '${name}'`);
    return v;
  }

  addVhost(name: string, description = "", tags: string[] = []): VHost {
    const existing = this.vhosts.get(name);
    if (existing) return existing;
    const v = new VHost(name, this.store, this, { description, tags });
    this.vhosts.set(name, v);
    this.definitionChanged({ op: "vhost.add", name, description, tags });
    return v;
  }

  deleteVhost(name: string): void {
    const v = this.getVhost(name);
    for (const c of [...this.connections]) if (c.vhostName === name) c.close(`vhost '${name}' is deleted`);
    v.destroy();
    this.vhosts.delete(name);
    for (const k of [...this.permissions.keys()]) if (k.startsWith(name + "\u0000")) this.permissions.delete(k);
    this.permissionsVersion++;
    for (const m of [this.policies, this.parameters]) for (const [k, v] of [...m]) if (v["vhost"] === name) m.delete(k);
    this.definitionChanged({ op: "vhost.delete", name });
  }

  // ---- users and permissions ----------------------------------------------

  putUser(u: User): void {
    this.users.set(u.name, u);
    this.definitionChanged({ op: "user.add", name: u.name, passwordHash: u.passwordHash, hashingAlgorithm: u.hashingAlgorithm, tags: u.tags, ...(u.exportHash ? { exportHash: u.exportHash } : {}), ...(u.limits && Object.keys(u.limits).length > 0 ? { limits: u.limits } : {}) });
  }

  deleteUser(name: string): void {
    if (!this.users.delete(name)) throw notFound(`no user '${name}'`);
    for (const [k, p] of [...this.permissions]) if (p.user === name) this.permissions.delete(k);
    this.permissionsVersion++;
    for (const c of [...this.connections]) if (c.userName === name) c.close(`user '${name}' is deleted`);
    this.definitionChanged({ op: "user.delete", name });
  }

  setPermission(p: Permission): void {
    if (!this.users.has(p.user)) throw notFound(`no user '${p.user}'`);
    this.getVhost(p.vhost);
    this.permissions.set(`${p.vhost}\u0000${p.user}`, p);
    this.permissionsVersion++;
    this.definitionChanged({ op: "permission.set", ...p });
  }

  clearPermission(user: string, vhost: string): void {
    this.permissions.delete(`${vhost}\u0000${user}`);
    this.permissionsVersion++;
    this.definitionChanged({ op: "permission.clear", user, vhost });
  }

  setTopicPermission(p: TopicPermission): void {
    this.clearTopicPermission(p.user, p.vhost, p.exchange, false);
    this.topicPermissions.push(p);
    this.definitionChanged({ op: "topic-permission.set", ...p });
  }

  clearTopicPermission(user: string, vhost: string, exchange?: string, log = true): void {
    for (let i = this.topicPermissions.length - 1; i >= 0; i--) {
      const t = this.topicPermissions[i]!;
      if (t.user === user && t.vhost === vhost && (exchange === undefined || t.exchange === exchange)) this.topicPermissions.splice(i, 1);
    }
    if (log) this.definitionChanged({ op: "topic-permission.clear", user, vhost, exchange });
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
          ok = await this.loginGuard.hashSlot(() => verifyPassword(u, password));
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

  /** connection.open: may `user` use `vhost`? (permissions, then the vhost's and the user's connection limits) */
  checkVhostAccess(user: string, vhost: string): VHost {
    const v = this.vhosts.get(vhost);
    if (!v) throw notAllowed(`vhost ${vhost} not found`);
    if (!this.permissions.has(`${vhost}\u0000${user}`)) {
      throw notAllowed(`access to vhost '${vhost}' refused for user '${user}'`);
    }
    const u = this.users.get(user);
    if (u !== undefined) checkConnectionLimits(this.connections, this.parameters, u, vhost);
    return v;
  }

  /** channel.open: the user's channel limit (the connection's own channel_max is checked by the connection). */
  checkChannelLimit(user: string): void {
    const u = this.users.get(user);
    if (u !== undefined && u.limits !== undefined) checkChannelLimit(this.connections, u);
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
