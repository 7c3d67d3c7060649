/**
 * FleetService: the task logic shared by the collector's AMQP consumers, its
 * RPC queue and the HTTP API. It resolves targets, records tasks, dispatches
 * signed commands (in --batch waves), applies agents' results and events,
 * records expiries, and sweeps rows that can no longer finish so nothing waits
 * forever. It talks to the broker only through the Publisher it is given.
 *
 * Invariants: a row gets its nonce persisted BEFORE its command is published,
 * so a crash between the two re-publishes the same nonce (agents refuse the
 * copy as a replay, which we recognise and only audit); every state change is
 * one SQLite transaction; the first final status of a row wins (except over our
 * own "swept:" guesses, which a real agent report corrects).
 */
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { OperatorKey } from "./sign.js";
import { signPayload } from "./sign.js";
import { isFinal, type AgentEvent, type CancelPayload, type CommandPayload, type HostStatus, type PresenceMessage, type ResultMessage, type Target } from "./protocol.js";
import type { FleetStore, GroupRow, HostRow, ResultRow, TaskFilter, TaskRow } from "./store.js";
import { describeWhere, globMatch, matchesWhere, parseWhere, TargetError, type WhereClause } from "./targets.js";
import { assertName, hostKey } from "./topology.js";
import { checkPushDest, checkPushMode, checkPushName, PUSH_MAX_BYTES, sha256Hex, type PushSpec } from "./push.js";

/** A host or group name from a request: a bad one is the caller's error (400), not ours. */
function checkName(kind: string, name: unknown): string {
  try {
    return assertName(kind, String(name));
  } catch (e) {
    throw new FleetError((e as Error).message);
  }
}

export interface Publisher {
  /** publish to fleet.commands with a confirm; resolves false when the message was returned unroutable */
  /** `bcc`: more routing keys the broker also routes this one message to (RabbitMQ's BCC header, stripped on delivery) */
  publishCommand(routingKey: string, body: Buffer, expirationMs: number, bcc?: string[]): Promise<boolean>;
}

export interface SubmitRequest {
  command?: string;
  argv?: string[];
  /** `warren push`: a file to write on the hosts instead of a command (push.ts) */
  push?: PushSpec;
  hosts?: string[];
  group?: string;
  match?: string;
  /** fact clauses (targets.ts): narrow --hosts/--group/--match, or alone pick among all known hosts */
  where?: string[];
  ttlMs?: number;
  timeoutMs?: number;
  batch?: number;
  maxOutput?: number;
  user: string;
}

export const DEFAULT_TTL_MS = 60 * 60_000;
/** RabbitMQ's default consumer_timeout is 30 min and we ack after the result: stay under it. */
export const DEFAULT_TIMEOUT_MS = 10 * 60_000;
export const MAX_TIMEOUT_MS = 25 * 60_000;
const SWEEP_GRACE_MS = 10_000;
/** Per-host commands in flight (published, confirm awaited) at once during dispatch. */
const DISPATCH_WINDOW = 500;
/**
 * Members per group message. One message naming all N members, copied into N queues, costs
 * N² names on the wire and in every agent's signature check (10,000 members: 1.8 GB); chunks
 * of 100 cost 100·N (20 MB) in N/100 publishes.
 */
const GROUP_CHUNK = 100;
const STATUSES = ["pending", "queued", "running", "ok", "failed", "timeout", "expired", "cancelled", "rejected", "interrupted", "unroutable", "lost"];
const LOST_GRACE_MS = 60_000;

export class FleetError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export interface TaskView extends TaskRow {
  state: "active" | "done";
  counts: Record<string, number>;
  results: ResultRow[];
  rejections?: Array<{ at: number; host: string; error: string }>;
  /** presence of the hosts of unfinished rows (why a row may stay queued) */
  hosts?: Record<string, Presence>;
}

/**
 * Where a host is, as the collector can tell: `online` (beats arriving), `offline` (it said so
 * on a clean stop), `lost` (beats stopped without a word: 3 heartbeats + 2 s of silence),
 * `enrolled` (never connected), `unknown` (never seen nor enrolled). `since`: when that began
 * (the offline announcement, the last beat heard), else null.
 */
export interface Presence {
  presence: "online" | "offline" | "lost" | "enrolled" | "unknown";
  since: number | null;
}
export type HostView = HostRow & Presence & { online: boolean };

/** Silence after which a host that did not say goodbye is `lost`: 3 heartbeats and 2 s. */
const lostAfter = (heartbeatMs: number): number => 3 * heartbeatMs + 2000;

export function presenceOf(h: Pick<HostRow, "state" | "lastSeen" | "heartbeatMs" | "enrolled">, now: number): Presence {
  if (h.lastSeen === null) return { presence: h.enrolled ? "enrolled" : "unknown", since: null };
  if (h.state === "offline") return { presence: "offline", since: h.lastSeen };
  if ((h.state === "online" || h.state === "heartbeat") && now - h.lastSeen < lostAfter(h.heartbeatMs)) return { presence: "online", since: null };
  return { presence: "lost", since: h.lastSeen };
}

export class FleetService extends EventEmitter {
  publisher: Publisher | undefined;
  private dispatching = new Set<number>();

  constructor(
    readonly store: FleetStore,
    private readonly key: OperatorKey,
    private readonly log: (l: string) => void,
  ) {
    super();
    this.setMaxListeners(0);
  }

  // ---------------- operator side ----------------

  resolveTargets(r: SubmitRequest): string[] {
    const given = [r.hosts && r.hosts.length ? 1 : 0, r.group ? 1 : 0, r.match ? 1 : 0].reduce((a, b) => a + b, 0);
    const where = this.parseWhere(r.where);
    if (given > 1 || (given === 0 && !where.length)) throw new FleetError("say exactly one of --hosts, --group or --match (or --where alone)");
    if (r.match && r.match.length > 200) throw new FleetError("--match pattern longer than 200 characters");
    // every known host with its facts: only --match, --where and "all" need it (10,000 rows parsed otherwise)
    let knownHosts: Map<string, HostRow> | undefined;
    const known = (): Map<string, HostRow> => (knownHosts ??= new Map(this.store.hosts().map((h) => [h.name, h])));
    let hosts: string[];
    let what: string;
    if (r.hosts && r.hosts.length) {
      hosts = [...new Set(r.hosts.map((h) => checkName("host", h)))];
      what = "host among those given";
    } else if (r.group) {
      hosts = this.store.groupMembers(checkName("group", r.group));
      what = `known host is in group ${r.group}`;
    } else if (r.match) {
      hosts = [...known().keys()].filter((n) => globMatch(r.match!, n));
      what = `known host matches ${r.match}`;
    } else {
      hosts = [...known().keys()];
      what = "known host";
    }
    if (where.length) {
      // A host we know nothing about has no facts: it cannot satisfy a clause.
      hosts = hosts.filter((n) => known().has(n) && matchesWhere(known().get(n)!, where));
      what += ` where ${describeWhere(where)}`;
    }
    if (!hosts.length) throw new FleetError(`no ${what}`, 404);
    return hosts;
  }

  private parseWhere(w: unknown): WhereClause[] {
    try {
      return parseWhere(w);
    } catch (e) {
      throw new FleetError((e as Error).message, e instanceof TargetError ? e.status : 400);
    }
  }

  /** A push request checked as the agent will check it, and its checksum recomputed from the bytes. */
  private checkPush(f: unknown): PushSpec {
    const s = f as Partial<PushSpec>;
    if (typeof s !== "object" || s === null) throw new FleetError("push: malformed");
    const mode = s.mode ?? 0o644;
    const bad = checkPushName(s.name) ?? (s.dest === null || s.dest === undefined ? null : checkPushDest(s.dest)) ?? checkPushMode(mode);
    if (bad) throw new FleetError(`push: ${bad}`);
    if (typeof s.data !== "string" || s.data.length > Math.ceil(PUSH_MAX_BYTES / 3) * 4 + 4) throw new FleetError(`push: file over the cap of ${PUSH_MAX_BYTES} bytes (1 MiB)`, 413);
    const data = Buffer.from(s.data, "base64");
    if (data.length > PUSH_MAX_BYTES) throw new FleetError(`push: file of ${data.length} bytes is over the cap of ${PUSH_MAX_BYTES} bytes (1 MiB)`, 413);
    if (s.size !== undefined && s.size !== data.length) throw new FleetError(`push: size mismatch (${data.length} bytes received, ${String(s.size)} announced)`);
    const sum = sha256Hex(data);
    if (s.sha256 !== undefined && String(s.sha256).toLowerCase() !== sum) throw new FleetError(`push: checksum mismatch (sha256 ${sum} received, ${String(s.sha256)} announced)`);
    return { name: s.name!, dest: s.dest ?? null, mode, size: data.length, sha256: sum, data: data.toString("base64") };
  }

  async submit(r: SubmitRequest): Promise<{ id: number; hosts: string[]; expiresAt: number }> {
    const push = r.push !== undefined ? this.checkPush(r.push) : undefined;
    if (push && (r.command !== undefined || r.argv !== undefined)) throw new FleetError("give a command or a file to push, not both");
    if (push)
      r = { ...r, command: `push ${push.name} -> ${push.dest ?? "<push-dir>/" + push.name} (${push.size} bytes, mode ${push.mode.toString(8).padStart(4, "0")}, sha256 ${push.sha256.slice(0, 16)}…)` };
    if (typeof r.command !== "string" && !(Array.isArray(r.argv) && r.argv.length && r.argv.every((a) => typeof a === "string"))) throw new FleetError("no command given");
    if (typeof r.command === "string" && !r.command.trim()) throw new FleetError("empty command");
    const ttlMs = r.ttlMs ?? DEFAULT_TTL_MS;
    const timeoutMs = r.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(ttlMs > 0)) throw new FleetError("--ttl must be positive");
    if (!(timeoutMs > 0) || timeoutMs > MAX_TIMEOUT_MS) throw new FleetError(`--timeout must be between 1 ms and ${MAX_TIMEOUT_MS / 60_000} min`);
    const batch = Math.max(0, Math.floor(r.batch ?? 0));
    const hosts = this.resolveTargets(r);
    const now = Date.now();
    const id = this.store.tx(() => {
      const id = this.store.allocateTaskId();
      const base = r.hosts?.length ? { hosts } : r.group ? { group: r.group } : r.match ? { match: r.match } : {};
      const target = r.where?.length ? { ...base, where: r.where } : base;
      this.store.insertTask({
        id,
        command: r.command ?? r.argv!.join(" "),
        argv: r.argv ?? null,
        target,
        user: r.user,
        createdAt: now,
        expiresAt: now + ttlMs,
        timeoutMs,
        ttlMs,
        batch,
        maxOutput: r.maxOutput ?? null,
        cancelRequested: false,
        origin: "submit",
      });
      if (push) this.store.insertTaskFile(id, push);
      this.store.insertPending(id, hosts, batch);
      const file = push ? { push: { name: push.name, dest: push.dest, mode: push.mode, size: push.size, sha256: push.sha256 } } : {};
      this.store.audit(r.user, push ? "push" : "submit", id, { command: r.command ?? null, argv: r.argv ?? null, ...file, target, hosts: hosts.length, ttlMs, timeoutMs, batch });
      return id;
    });
    this.emit("task", id);
    // After the answer is on its way: the id is printed before dispatch reads 10,000 rows.
    setImmediate(() => void this.dispatch(id));
    return { id, hosts, expiresAt: now + ttlMs };
  }

  /** Send every row of the task's current batch that is still pending. Safe to call any time. */
  async dispatch(taskId: number): Promise<void> {
    if (this.dispatching.has(taskId) || !this.publisher) return;
    this.dispatching.add(taskId);
    try {
      const t = this.store.task(taskId);
      if (!t || t.cancelRequested) return;
      const file = this.store.taskFile(taskId);
      const rows = this.store.dispatchRows(taskId);
      const open = rows.filter((r) => !isFinal(r.status));
      const wave = Math.min(...open.map((r) => r.batchNo));
      // A batch goes out only once every earlier batch is final.
      const due = rows.filter((r) => r.status === "pending" && r.batchNo === wave);
      if (!due.length || rows.some((r) => r.batchNo < wave && !isFinal(r.status))) return;
      if (Date.now() > t.expiresAt) return; // the sweeper records them as expired
      // A whole-group task (no --batch) goes to the members whose queue is bound to it (announced
      // by their agent, or set at enrolment) in messages of GROUP_CHUNK members each: one publish
      // routed to each member's host key (the first as routing key, the rest in the BCC header),
      // its signed target listing exactly those members. Members assigned only centrally
      // (`warren groups assign`) and every other target get one message each.
      const group = t.target?.group && !t.batch ? t.target.group : undefined;
      const bound = group ? this.store.boundMembers(group) : new Set<string>();
      const viaGroup = due.filter((r) => bound.has(r.host));
      if (group && viaGroup.length) {
        const nonce = viaGroup.find((r) => r.nonce)?.nonce ?? randomUUID();
        const members = viaGroup.map((r) => r.host);
        this.store.setNonceMany(taskId, members, nonce);
        const chunks: string[][] = [];
        for (let i = 0; i < viaGroup.length; i += GROUP_CHUNK) chunks.push(viaGroup.slice(i, i + GROUP_CHUNK).map((r) => r.host));
        // The signed target lists the members it is for: a host joining the group later cannot run it.
        await Promise.all(chunks.map((hosts) => this.sendCommand(t, file, { group, hosts }, hostKey(hosts[0]!), nonce, hosts.slice(1).map(hostKey))));
        this.store.markQueuedMany(taskId, members, nonce, { group } as Target);
      }
      // One message per host, pipelined: a window of DISPATCH_WINDOW publishes awaits its
      // confirms together; nonces are stored (one transaction) before any of them leaves.
      const single = due.filter((r) => !(group && bound.has(r.host)));
      // A push's messages carry the file: keep what is in flight near 64 MiB, not 500 copies.
      const window = file ? Math.max(4, Math.min(DISPATCH_WINDOW, Math.floor((64 << 20) / (file.data.length + 1024)))) : DISPATCH_WINDOW;
      for (let i = 0; i < single.length; i += window) {
        const win = single.slice(i, i + window).map((r) => ({ host: r.host, nonce: r.nonce ?? randomUUID() }));
        this.store.tx(() => win.forEach((w) => this.setNonce(taskId, w.host, w.nonce)));
        const routed = await Promise.all(win.map((w) => this.sendCommand(t, file, { host: w.host }, hostKey(w.host), w.nonce)));
        this.store.tx(() =>
          win.forEach((w, k) => {
            if (routed[k]) this.store.markQueued(taskId, w.host, w.nonce, { host: w.host });
            else
              this.applyResult(
                { kind: "result", task: taskId, host: w.host, nonce: w.nonce, status: "unroutable", error: `no queue for host ${w.host} (never enrolled, or removed)`, finishedAt: Date.now() },
                "collector",
              );
          }),
        );
      }
      this.emit("task", taskId);
    } catch (e) {
      this.log(`task ${taskId}: dispatch paused (${(e as Error).message}); it resumes on reconnect`);
    } finally {
      this.dispatching.delete(taskId);
    }
  }

  private setNonce(taskId: number, host: string, nonce: string): void {
    this.store.q("UPDATE results SET nonce = ? WHERE task_id = ? AND host = ? AND nonce IS NULL").run(nonce, taskId, host);
  }

  private async sendCommand(t: TaskRow, file: PushSpec | undefined, target: Target, rk: string, nonce: string, bcc?: string[]): Promise<boolean> {
    const p: CommandPayload = {
      v: 1,
      kind: "command",
      task: t.id,
      nonce,
      target,
      timeoutMs: t.timeoutMs,
      issuedAt: Date.now(),
      exp: t.expiresAt,
      user: t.user,
      ...(file ? { push: file } : t.argv ? { argv: t.argv } : { shell: t.command }),
      ...(t.maxOutput ? { maxOutput: t.maxOutput } : {}),
    };
    const body = Buffer.from(JSON.stringify(signPayload(this.key, p)));
    return this.publisher!.publishCommand(rk, body, Math.max(1, t.expiresAt - Date.now()), bcc);
  }

  async cancel(taskId: number, user: string): Promise<{ id: number; cancelled: number; signalled: number }> {
    const t = this.store.task(taskId);
    if (!t) throw new FleetError(`no task ${taskId}`, 404);
    const rows = this.store.results(taskId);
    let cancelled = 0;
    const live: ResultRow[] = [];
    this.store.tx(() => {
      this.store.setCancelRequested(taskId);
      this.store.audit(user, "cancel", taskId, {});
      for (const r of rows) {
        if (r.status === "pending") {
          this.store.applyFinal({ kind: "result", task: taskId, host: r.host, nonce: null, status: "cancelled", error: `cancelled by ${user} before it was sent`, finishedAt: Date.now() });
          cancelled++;
        } else if (r.status === "queued" || r.status === "running") live.push(r);
      }
    });
    // Queued or running: a signed cancel goes to each host's queue (behind the command, so it finds it).
    for (const r of live) {
      const p: CancelPayload = { v: 1, kind: "cancel", task: taskId, nonce: randomUUID(), target: { host: r.host }, issuedAt: Date.now(), exp: Math.max(t.expiresAt, Date.now() + 60_000), user };
      try {
        await this.publisher?.publishCommand(hostKey(r.host), Buffer.from(JSON.stringify(signPayload(this.key, p))), Math.max(1, p.exp - Date.now()));
      } catch (e) {
        this.log(`task ${taskId}: cancel to ${r.host} failed: ${(e as Error).message}`);
      }
    }
    this.emit("task", taskId);
    return { id: taskId, cancelled, signalled: live.length };
  }

  /** `warren tasks` and GET /api/fleet/tasks: validated filters (store.tasks). */
  tasks(q: Record<string, unknown>): ReturnType<FleetStore["tasks"]> {
    const limit = Number(q.limit ?? 20);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new FleetError("limit must be an integer from 1 to 10000");
    const f: TaskFilter = {};
    if (q.host !== undefined) f.host = checkName("host", q.host);
    if (q.status !== undefined) {
      const st = String(q.status);
      if (st !== "active" && st !== "done" && !STATUSES.includes(st)) throw new FleetError(`unknown status ${JSON.stringify(st)} (active, done, ${STATUSES.join(", ")})`);
      f.status = st;
    }
    if (q.user !== undefined) f.user = String(q.user);
    if (q.since !== undefined) {
      f.since = Number(q.since);
      if (!Number.isFinite(f.since)) throw new FleetError("since must be a time in ms since the epoch");
    }
    return this.store.tasks(limit, f);
  }

  view(taskId: number): TaskView | undefined {
    const t = this.store.task(taskId);
    if (!t) return undefined;
    const results = this.store.results(taskId);
    const counts: Record<string, number> = {};
    for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
    const rejections = this.store
      .auditFor(taskId)
      .filter((a) => a.action === "rejected")
      .map((a) => a.detail as { at: number; host: string; error: string });
    const hosts = this.presenceFor(results);
    return { ...t, state: results.every((r) => isFinal(r.status)) ? "done" : "active", counts, results, ...(rejections.length ? { rejections } : {}), ...(hosts ? { hosts } : {}) };
  }

  hostsView(): HostView[] {
    const now = Date.now();
    return this.store.hosts().map((h) => {
      const p = presenceOf(h, now);
      return { ...h, online: p.presence === "online", presence: p.presence, since: p.since };
    });
  }

  /** Presence of the hosts behind a task's unfinished rows: "queued — host offline since …". */
  private presenceFor(rows: ResultRow[]): Record<string, Presence> | undefined {
    const open = new Set(rows.filter((r) => !isFinal(r.status)).map((r) => r.host));
    if (!open.size) return undefined;
    const now = Date.now();
    const out: Record<string, Presence> = {};
    for (const h of this.store.hosts()) if (open.has(h.name)) out[h.name] = presenceOf(h, now);
    for (const name of open) out[name] ??= { presence: "unknown", since: null };
    return out;
  }

  /**
   * Hosts whose beats stopped without an `offline` (crash, network, SIGKILL) become `lost`:
   * stored, audited once, announced to listeners. A later beat brings them back online.
   */
  markLostHosts(now = Date.now()): string[] {
    const lost = this.store.tx(() => {
      const rows = this.store.silentHosts(now, 3, 2000); // lostAfter(): 3 heartbeats + 2 s
      for (const h of rows) {
        this.store.setHostState(h.name, "lost");
        this.store.audit("collector", "host.lost", null, { host: h.name, lastSeen: h.lastSeen, heartbeatMs: h.heartbeatMs });
      }
      return rows.map((h) => h.name);
    });
    if (lost.length) this.emit("hosts");
    return lost;
  }

  /** Enrol a host with exactly these groups; returns the groups it had before. */
  addHost(name: string, groups: string[], user: string): string[] {
    return this.store.tx(() => {
      const previous = this.store.groupsOf(checkName("host", name));
      this.store.addHost(
        name,
        groups.map((g) => checkName("group", g)),
        true,
      );
      this.store.audit(user, "hosts.add", null, { host: name, groups });
      return previous;
    });
  }

  // ---------------- central groups and inventory ----------------

  groupsView(): GroupRow[] {
    return this.store.groups();
  }

  /** Create a central group (or update its description); `hosts` are assigned to it at once. */
  addGroup(name: string, description: string, hosts: string[], user: string): { name: string; created: boolean; assigned: string[] } {
    checkName("group", name);
    if (description.length > 500) throw new FleetError("--description longer than 500 characters");
    hosts.forEach((h) => checkName("host", h));
    const r = this.store.tx(() => {
      const created = this.store.addGroup(name, description, user);
      const assigned = this.store.assign(name, hosts);
      this.store.audit(user, "groups.add", null, { group: name, created, description, assigned });
      return { name, created, assigned };
    });
    if (r.assigned.length) this.emit("groups", name, r.assigned);
    return r;
  }

  removeGroup(name: string, user: string): { name: string; unassigned: string[]; stillAnnounced: string[] } {
    checkName("group", name);
    const r = this.store.tx(() => {
      const unassigned = this.store.removeGroup(name);
      if (!unassigned) throw new FleetError(`no central group ${name}${this.store.boundMembers(name).size ? " (its members announce it themselves: change their --groups)" : ""}`, 404);
      this.store.audit(user, "groups.rm", null, { group: name, unassigned });
      return { name, unassigned, stillAnnounced: [...this.store.boundMembers(name)].sort() };
    });
    if (r.unassigned.length) this.emit("groups", name, r.unassigned);
    return r;
  }

  assignGroup(name: string, hosts: string[], assign: boolean, user: string): { name: string; changed: string[]; unchanged: string[] } {
    checkName("group", name);
    if (!hosts.length) throw new FleetError(`name the hosts to ${assign ? "assign to" : "unassign from"} ${name}`);
    hosts.forEach((h) => checkName("host", h));
    const r = this.store.tx(() => {
      if (!this.store.groups().some((g) => g.name === name && g.central)) throw new FleetError(`no central group ${name}: create it with \`warren groups add ${name}\``, 404);
      const changed = assign ? this.store.assign(name, hosts) : this.store.unassign(name, hosts);
      this.store.audit(user, assign ? "groups.assign" : "groups.unassign", null, { group: name, hosts: changed });
      return { name, changed, unchanged: hosts.filter((h) => !changed.includes(h)) };
    });
    if (r.changed.length) this.emit("groups", name, r.changed);
    return r;
  }

  /** Inventory: a host's address and port (the seed's ip_addr/port); creates the host if unknown. */
  setHost(name: string, address: string | null | undefined, port: number | null | undefined, user: string): HostRow {
    checkName("host", name);
    if (address != null && !/^[A-Za-z0-9.:%_-]{1,255}$/.test(address)) throw new FleetError(`bad --address ${JSON.stringify(address)}: an IP address or DNS name`);
    if (port != null && !(Number.isInteger(port) && port >= 1 && port <= 65535)) throw new FleetError(`bad --port ${String(port)}: 1 to 65535`);
    return this.store.tx(() => {
      this.store.setInventory(name, address, port);
      this.store.audit(user, "hosts.set", null, { host: name, address, port });
      return this.store.hosts().find((h) => h.name === name)!;
    });
  }

  removeHost(name: string, user: string): boolean {
    return this.store.tx(() => {
      const ok = this.store.removeHost(name);
      this.store.audit(user, "hosts.remove", null, { host: name });
      return ok;
    });
  }

  // ---------------- agent side ----------------

  applyPresence(m: PresenceMessage): void {
    if (this.storePresence(m)) this.emit("hosts");
  }

  /**
   * A presence message's row, without telling listeners: the collector stores a turn's worth of
   * heartbeats in one transaction and emits once after it commits. False for a malformed one.
   */
  storePresence(m: PresenceMessage): boolean {
    if (typeof m.host !== "string" || !Array.isArray(m.groups)) return false;
    this.store.upsertPresence(
      m.host,
      m.groups.filter((g) => typeof g === "string"),
      m.facts,
      m.heartbeatMs || 10_000,
      m.state,
      m.at || Date.now(),
    );
    return true;
  }

  /** Tell listeners (SSE, the UI) the host list changed: after a batch of storePresence. */
  hostsChanged(): void {
    this.emit("hosts");
  }

  /**
   * A progress event. It counts only for a row that was sent to that host with that nonce
   * (an agent cannot touch tasks it was never given).
   */
  applyEvent(e: AgentEvent): void {
    if (typeof e.task !== "number" || typeof e.host !== "string") return;
    const cur = this.store.result(e.task, e.host);
    if (!cur || !cur.nonce || cur.nonce !== e.nonce) return;
    if (e.kind === "started") this.store.markRunning(e.task, e.host, e.at);
    else if (e.kind === "output") this.store.appendOutput(e.task, e.host, e.stream, String(e.data));
    this.emit("task", e.task, e);
  }

  /**
   * Store an agent's (or our own, actor "collector") final report. Returns true if it changed
   * the row. An agent's report counts only for a row that was sent to that host with the
   * report's nonce: a host outside the task, or one reporting a nonce it was never sent, only
   * leaves an audit entry. (Who the sender is was checked by the collector: user_id.)
   */
  applyResult(r: ResultMessage, actor: string): boolean {
    if (typeof r.host !== "string" || typeof r.status !== "string") return false;
    const changed = this.store.tx(() => {
      if (r.status === "rejected") this.store.audit(actor, "rejected", typeof r.task === "number" ? r.task : null, { at: r.finishedAt, host: r.host, error: r.error ?? "", nonce: r.nonce });
      if (typeof r.task !== "number") return false;
      let cur = this.store.result(r.task, r.host);
      const batch = this.store.taskBatch(r.task); // undefined: not a task of ours
      const known = batch !== undefined;
      if (actor !== "collector" && known && (!cur || !cur.nonce || cur.nonce !== r.nonce)) {
        if (r.status !== "rejected") this.store.audit(actor, "unsolicited", r.task, { host: r.host, status: r.status, nonce: r.nonce ?? null, expected: cur?.nonce ?? null });
        return false;
      }
      // A report for a task we never issued can only be a refusal of a forged command: keep it visible.
      if (!known && r.status !== "rejected") return false;
      // Our own re-publish after a crash (same nonce): the agent refused the copy; the original counts.
      if (r.status === "rejected" && cur && r.nonce && cur.nonce === r.nonce && /^replayed nonce/.test(r.error ?? "")) return false;
      if (!known) {
        // A report for a task we never issued (forged/unsigned commands): keep it visible.
        this.store.insertTask({
          id: r.task,
          command: "(unknown: not issued by this collector)",
          argv: null,
          target: null,
          user: "?",
          createdAt: Date.now(),
          expiresAt: Date.now(),
          timeoutMs: 0,
          ttlMs: 0,
          batch: 0,
          maxOutput: null,
          cancelRequested: false,
          origin: "unknown",
        });
      }
      if (cur && (cur.status === "expired" || cur.status === "lost")) {
        if (/^swept:/.test(cur.error ?? "") && r.status !== "rejected" && actor !== "collector") {
          this.store.q("UPDATE results SET status = 'running' WHERE task_id = ? AND host = ?").run(r.task, r.host);
          cur = this.store.result(r.task, r.host);
        }
      }
      const ok = this.store.applyFinal(r as ResultMessage & { task: number }, cur);
      if (ok && r.status !== "rejected") this.store.audit(actor, "result", r.task, { host: r.host, status: r.status, exitCode: r.exitCode ?? null });
      return ok ? (batch ?? 0) : false;
    });
    if (typeof r.task === "number") {
      this.emit("task", r.task);
      // The next --batch wave may be due (only --batch tasks have pending rows once dispatched).
      if (changed !== false && changed > 0 && this.store.hasPending(r.task)) void this.dispatch(r.task);
    }
    return changed !== false;
  }

  /** The broker dead-lettered the command with `nonce` from `host`'s queue; only that row's nonce counts. */
  applyExpired(taskId: number, host: string, reason: string, nonce?: string): void {
    if (nonce !== undefined && this.store.result(taskId, host)?.nonce !== nonce) return;
    this.applyResult({ kind: "result", task: taskId, host, nonce: nonce ?? null, status: "expired", error: reason, finishedAt: Date.now() }, "collector");
  }

  /** Resume dispatch of every task with pending rows, and finish rows that can no longer finish. */
  async sweep(): Promise<void> {
    const now = Date.now();
    for (const r of this.store.staleOpenResults(now, SWEEP_GRACE_MS))
      this.applyExpired(r.taskId, r.host, `swept: ${r.status === "pending" ? "not sent" : "not taken by the host"} before the task's TTL ran out`);
    for (const r of this.store.overdueRunning(now, LOST_GRACE_MS))
      this.applyResult(
        { kind: "result", task: r.taskId, host: r.host, nonce: r.nonce, status: "lost", error: "swept: the agent went silent while running and did not report back in time", finishedAt: now },
        "collector",
      );
    for (const id of this.store.tasksWithPending()) await this.dispatch(id);
  }

  static statusLine(counts: Record<string, number>): string {
    const order: HostStatus[] = ["ok", "failed", "timeout", "rejected", "expired", "cancelled", "interrupted", "unroutable", "lost", "running", "queued", "pending"];
    return order
      .filter((s) => counts[s])
      .map((s) => `${counts[s]} ${s}`)
      .join(", ");
  }
}
