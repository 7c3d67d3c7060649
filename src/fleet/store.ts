/**
 * The collector's SQLite store (better-sqlite3, WAL): hosts, host_groups,
 * tasks, per-host results and an append-only audit log (triggers forbid
 * UPDATE/DELETE on it). Synchronous by design: the collector applies one
 * message in one transaction and acks it only after the commit.
 *
 * Invariants: a result row in a FINAL status never changes again (applyFinal
 * is first-writer-wins); task ids are unique (allocated here, 5 digits, more
 * once 5-digit ids get crowded).
 */
import Database from "better-sqlite3";
import { randomInt } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { PushSpec } from "./push.js";
import { isFinal, type HostFacts, type HostStatus, type ResultMessage, type Target } from "./protocol.js";

export interface TaskRow {
  id: number;
  command: string;
  argv: string[] | null;
  target: { hosts?: string[]; group?: string; match?: string; where?: string[] } | null;
  user: string;
  createdAt: number;
  expiresAt: number;
  timeoutMs: number;
  ttlMs: number;
  batch: number;
  maxOutput: number | null;
  cancelRequested: boolean;
  origin: string;
}

export interface ResultRow {
  taskId: number;
  host: string;
  status: HostStatus;
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  error: string | null;
  nonce: string | null;
  batchNo: number;
  dispatchTarget: Target | null;
  queuedAt: number | null;
  startedAt: number | null;
  finishedAt: number | null;
}

export interface HostRow {
  name: string;
  /** every group the host is in: announced/enrolled (`announced`) and central (`assigned`) */
  groups: string[];
  /** groups its agent announced (or its enrolment set): its queue is bound to their routing keys */
  announced: string[];
  /** groups an operator assigned it to (`warren groups assign`): commands reach it by host key */
  assigned: string[];
  /** inventory (the seed's host table: ip_addr, port), set with `warren hosts set` */
  address: string | null;
  port: number | null;
  facts: HostFacts | null;
  firstSeen: number;
  lastSeen: number | null;
  heartbeatMs: number;
  state: string;
  enrolled: boolean;
}

export interface GroupRow {
  name: string;
  description: string;
  createdAt: number;
  createdBy: string;
  /** hosts assigned centrally */
  assigned: string[];
  /** hosts whose agents announced the group (or whose enrolment bound them to it) */
  announced: string[];
  /** false for a group only agents announced (nobody ran `warren groups add`) */
  central: boolean;
}

export interface TaskFilter {
  host?: string;
  status?: string;
  user?: string;
  since?: number;
}

export interface AuditRow {
  id: number;
  at: number;
  actor: string;
  action: string;
  taskId: number | null;
  detail: unknown;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS hosts (
  name TEXT PRIMARY KEY, facts TEXT, first_seen INTEGER NOT NULL, last_seen INTEGER,
  heartbeat_ms INTEGER NOT NULL DEFAULT 10000, state TEXT NOT NULL DEFAULT 'unknown', enrolled INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS host_groups (host TEXT NOT NULL, grp TEXT NOT NULL, PRIMARY KEY (host, grp));
DROP INDEX IF EXISTS host_groups_grp;
CREATE INDEX IF NOT EXISTS host_groups_grp_host ON host_groups (grp, host);
CREATE INDEX IF NOT EXISTS hosts_removed ON hosts (name) WHERE state = 'removed';
CREATE TABLE IF NOT EXISTS groups (name TEXT PRIMARY KEY, description TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL, created_by TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS group_assign (grp TEXT NOT NULL, host TEXT NOT NULL, PRIMARY KEY (grp, host));
CREATE INDEX IF NOT EXISTS group_assign_host ON group_assign (host);
CREATE TABLE IF NOT EXISTS tasks (
  id INTEGER PRIMARY KEY, command TEXT NOT NULL, argv TEXT, target TEXT, user TEXT NOT NULL,
  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, timeout_ms INTEGER NOT NULL, ttl_ms INTEGER NOT NULL,
  batch INTEGER NOT NULL DEFAULT 0, max_output INTEGER, cancel_requested INTEGER NOT NULL DEFAULT 0, origin TEXT NOT NULL DEFAULT 'submit');
CREATE TABLE IF NOT EXISTS task_files (
  task_id INTEGER PRIMARY KEY, name TEXT NOT NULL, dest TEXT, mode INTEGER NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS results (
  task_id INTEGER NOT NULL, host TEXT NOT NULL, status TEXT NOT NULL, exit_code INTEGER, signal TEXT,
  stdout TEXT NOT NULL DEFAULT '', stderr TEXT NOT NULL DEFAULT '', truncated INTEGER NOT NULL DEFAULT 0, error TEXT,
  nonce TEXT, batch_no INTEGER NOT NULL DEFAULT 0, dispatch_target TEXT, queued_at INTEGER, started_at INTEGER, finished_at INTEGER,
  PRIMARY KEY (task_id, host));
CREATE INDEX IF NOT EXISTS results_open ON results (status, task_id) WHERE status IN ('pending','queued','running');
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, task_id INTEGER, detail TEXT);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
`;

/** Output kept per stream for live (not yet final) results. */
const LIVE_OUTPUT_CAP = 1 << 20;

export class FleetStore {
  readonly db: Database.Database;
  /** Prepared statements by SQL text: compiling one costs more than running it (the per-result path). */
  private stmts = new Map<string, Database.Statement>();

  /** A cached prepared statement (the SQL texts here are a fixed, small set). */
  q(sql: string): Database.Statement {
    let st = this.stmts.get(sql);
    if (!st) this.stmts.set(sql, (st = this.db.prepare(sql)));
    return st;
  }

  constructor(file: string) {
    mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.runTx = this.db.transaction((fn: () => unknown) => fn());
    this.db.pragma("journal_mode = WAL");
    // WAL + NORMAL: a commit survives a process crash; an OS crash may lose the last
    // transactions, whose messages were then not acked either, so the broker redelivers them.
    this.db.pragma("synchronous = NORMAL");
    this.db.exec(SCHEMA);
    // Stores made before the inventory columns existed gain them (nullable: nothing to backfill).
    const cols = new Set((this.q("PRAGMA table_info(hosts)").all() as Array<{ name: string }>).map((c) => c.name));
    if (!cols.has("address")) this.db.exec("ALTER TABLE hosts ADD COLUMN address TEXT");
    if (!cols.has("port")) this.db.exec("ALTER TABLE hosts ADD COLUMN port INTEGER");
  }

  close(): void {
    this.db.close();
  }

  /**
   * Run `fn` in a transaction (a savepoint when already in one). One wrapper made once:
   * `db.transaction(fn)` builds four wrapped functions per call, which was 8 % of the
   * collector's CPU while it stored 10,000 results (one nested tx per result).
   */
  tx<T>(fn: () => T): T {
    return this.runTx(fn) as T;
  }
  private readonly runTx: (fn: () => unknown) => unknown;

  audit(actor: string, action: string, taskId: number | null, detail: unknown): void {
    this.q("INSERT INTO audit (at, actor, action, task_id, detail) VALUES (?,?,?,?,?)").run(Date.now(), actor, action, taskId, JSON.stringify(detail ?? null));
  }

  auditFor(taskId: number): AuditRow[] {
    return (this.q("SELECT * FROM audit WHERE task_id = ? ORDER BY id").all(taskId) as Array<Record<string, unknown>>).map((r) => ({
      id: r.id as number,
      at: r.at as number,
      actor: r.actor as string,
      action: r.action as string,
      taskId: r.task_id as number | null,
      detail: JSON.parse((r.detail as string) ?? "null"),
    }));
  }

  recentAudit(limit: number): AuditRow[] {
    return (this.q("SELECT * FROM audit ORDER BY id DESC LIMIT ?").all(limit) as Array<Record<string, unknown>>).map((r) => ({
      id: r.id as number,
      at: r.at as number,
      actor: r.actor as string,
      action: r.action as string,
      taskId: r.task_id as number | null,
      detail: JSON.parse((r.detail as string) ?? "null"),
    }));
  }

  allocateTaskId(): number {
    const exists = this.q("SELECT 1 FROM tasks WHERE id = ?");
    for (let digits = 5; ; digits++) {
      for (let i = 0; i < 20; i++) {
        const id = randomInt(10 ** (digits - 1), 10 ** digits);
        if (!exists.get(id)) return id;
      }
    }
  }

  // ---- hosts ----

  groupsOf(host: string): string[] {
    return (this.q("SELECT grp FROM host_groups WHERE host = ? ORDER BY grp").all(host) as Array<{ grp: string }>).map((r) => r.grp);
  }

  /** An agent's heartbeat. An enrolled host's groups are the enrolment's, not what its agent claims. */
  upsertPresence(name: string, groups: string[], facts: HostFacts, heartbeatMs: number, state: string, at: number): void {
    const now = Date.now();
    this.q(`INSERT INTO hosts (name, facts, first_seen, last_seen, heartbeat_ms, state) VALUES (?,?,?,?,?,?)
      ON CONFLICT(name) DO UPDATE SET facts = excluded.facts, last_seen = MAX(COALESCE(hosts.last_seen, 0), excluded.last_seen),
      heartbeat_ms = excluded.heartbeat_ms, state = CASE WHEN excluded.last_seen >= COALESCE(hosts.last_seen, 0) THEN excluded.state ELSE hosts.state END`).run(
      name,
      JSON.stringify(facts),
      now,
      at,
      heartbeatMs,
      state,
    );
    const enrolled = (this.q("SELECT enrolled FROM hosts WHERE name = ?").get(name) as { enrolled: number } | undefined)?.enrolled;
    if (enrolled) return;
    this.q("DELETE FROM host_groups WHERE host = ?").run(name);
    const ins = this.q("INSERT OR IGNORE INTO host_groups (host, grp) VALUES (?,?)");
    for (const g of groups) ins.run(name, g);
  }

  addHost(name: string, groups: string[], enrolled: boolean): void {
    this.q(
      "INSERT INTO hosts (name, first_seen, enrolled) VALUES (?,?,?) ON CONFLICT(name) DO UPDATE SET enrolled = excluded.enrolled, state = CASE WHEN hosts.state = 'removed' THEN 'unknown' ELSE hosts.state END",
    ).run(name, Date.now(), enrolled ? 1 : 0);
    this.q("DELETE FROM host_groups WHERE host = ?").run(name);
    const ins = this.q("INSERT OR IGNORE INTO host_groups (host, grp) VALUES (?,?)");
    for (const g of groups) ins.run(name, g);
  }

  removeHost(name: string): boolean {
    const r = this.q("UPDATE hosts SET state = 'removed', enrolled = 0 WHERE name = ? AND state != 'removed'").run(name);
    this.q("DELETE FROM host_groups WHERE host = ?").run(name);
    this.q("DELETE FROM group_assign WHERE host = ?").run(name);
    return r.changes > 0;
  }

  hosts(): HostRow[] {
    const announced = this.membership("SELECT host, grp FROM host_groups ORDER BY grp");
    const assigned = this.membership("SELECT host, grp FROM group_assign ORDER BY grp");
    return (this.q("SELECT * FROM hosts WHERE state != 'removed' ORDER BY name").all() as Array<Record<string, unknown>>).map((r) => {
      const name = r.name as string;
      const a = announced.get(name) ?? [];
      const c = assigned.get(name) ?? [];
      return {
        name,
        groups: [...new Set([...a, ...c])].sort(),
        announced: a,
        assigned: c,
        address: (r.address as string | null) ?? null,
        port: (r.port as number | null) ?? null,
        facts: r.facts ? (JSON.parse(r.facts as string) as HostFacts) : null,
        firstSeen: r.first_seen as number,
        lastSeen: r.last_seen as number | null,
        heartbeatMs: r.heartbeat_ms as number,
        state: r.state as string,
        enrolled: !!r.enrolled,
      };
    });
  }

  private membership(sql: string): Map<string, string[]> {
    const m = new Map<string, string[]>();
    for (const r of this.q(sql).all() as Array<{ host: string; grp: string }>) {
      const l = m.get(r.host) ?? [];
      l.push(r.grp);
      m.set(r.host, l);
    }
    return m;
  }

  /**
   * A group's members, announced or assigned, minus removed hosts, sorted. Merged here rather
   * than in one SQL UNION … NOT EXISTS … ORDER BY: at 10,000 members that query took 25–30 ms of
   * the `task id` answer, three covering-index reads and a Set take 4.5–7 ms. (Host names are
   * ASCII, checkName: JavaScript's sort orders them as SQLite's BINARY collation does.)
   */
  groupMembers(group: string): string[] {
    // pluck: a string per row, not an object per row
    // (SQL texts of their own: pluck() sticks to the cached statement, which other queries share)
    const members = new Set(this.q("SELECT host AS member FROM host_groups WHERE grp = ?").pluck().all(group) as string[]);
    for (const h of this.q("SELECT host AS member FROM group_assign WHERE grp = ?").pluck().all(group) as string[]) members.add(h);
    if (members.size) for (const h of this.q("SELECT name AS removed FROM hosts WHERE state = 'removed'").pluck().all() as string[]) members.delete(h);
    return [...members].sort();
  }

  /** Hosts whose queue is bound to the group's routing key (one message to group.G reaches them). */
  boundMembers(group: string): Set<string> {
    return new Set((this.q("SELECT host FROM host_groups WHERE grp = ?").all(group) as Array<{ host: string }>).map((r) => r.host));
  }

  /** A host's inventory: created if unknown (state 'unknown' until its agent appears). */
  setInventory(name: string, address: string | null | undefined, port: number | null | undefined): void {
    this.q("INSERT INTO hosts (name, first_seen) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET state = CASE WHEN hosts.state = 'removed' THEN 'unknown' ELSE hosts.state END").run(name, Date.now());
    if (address !== undefined) this.q("UPDATE hosts SET address = ? WHERE name = ?").run(address, name);
    if (port !== undefined) this.q("UPDATE hosts SET port = ? WHERE name = ?").run(port, name);
  }

  // ---- central groups ----

  group(name: string): GroupRow | undefined {
    return this.groups().find((g) => g.name === name);
  }

  /** Central groups and the groups agents announce, each with both member lists. */
  groups(): GroupRow[] {
    const out = new Map<string, GroupRow>();
    for (const r of this.q("SELECT * FROM groups ORDER BY name").all() as Array<Record<string, unknown>>) {
      out.set(r.name as string, {
        name: r.name as string,
        description: r.description as string,
        createdAt: r.created_at as number,
        createdBy: r.created_by as string,
        assigned: [],
        announced: [],
        central: true,
      });
    }
    const live = "NOT EXISTS (SELECT 1 FROM hosts h WHERE h.name = m.host AND h.state = 'removed')";
    for (const r of this.q(`SELECT grp, host FROM group_assign m WHERE ${live} ORDER BY host`).all() as Array<{ grp: string; host: string }>) out.get(r.grp)?.assigned.push(r.host);
    for (const r of this.q(`SELECT grp, host FROM host_groups m WHERE ${live} ORDER BY host`).all() as Array<{ grp: string; host: string }>) {
      let g = out.get(r.grp);
      if (!g) out.set(r.grp, (g = { name: r.grp, description: "", createdAt: 0, createdBy: "", assigned: [], announced: [], central: false }));
      g.announced.push(r.host);
    }
    return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** false when it already existed (its description is then updated if one is given). */
  addGroup(name: string, description: string, user: string): boolean {
    const r = this.q("INSERT INTO groups (name, description, created_at, created_by) VALUES (?,?,?,?) ON CONFLICT(name) DO NOTHING").run(name, description, Date.now(), user);
    if (!r.changes && description) this.q("UPDATE groups SET description = ? WHERE name = ?").run(description, name);
    return r.changes > 0;
  }

  /** Deletes the central group and its assignments; returns the hosts that were assigned, or undefined if there was none. */
  removeGroup(name: string): string[] | undefined {
    const hosts = (this.q("SELECT host FROM group_assign WHERE grp = ?").all(name) as Array<{ host: string }>).map((r) => r.host);
    this.q("DELETE FROM group_assign WHERE grp = ?").run(name);
    const r = this.q("DELETE FROM groups WHERE name = ?").run(name);
    return r.changes ? hosts : undefined;
  }

  /** Returns the hosts newly assigned (already assigned ones are left alone). */
  assign(group: string, hosts: string[]): string[] {
    const ins = this.q("INSERT OR IGNORE INTO group_assign (grp, host) VALUES (?,?)");
    return hosts.filter((h) => {
      this.setInventory(h, undefined, undefined);
      return ins.run(group, h).changes > 0;
    });
  }

  /** Returns the hosts that were assigned and no longer are. */
  unassign(group: string, hosts: string[]): string[] {
    const del = this.q("DELETE FROM group_assign WHERE grp = ? AND host = ?");
    return hosts.filter((h) => del.run(group, h).changes > 0);
  }

  /** Hosts still marked online whose last beat is older than `beats` heartbeats + `graceMs` (one scan in SQL rather than every host row parsed in JS). */
  silentHosts(now: number, beats: number, graceMs: number): Array<{ name: string; lastSeen: number; heartbeatMs: number }> {
    return (
      this.q("SELECT name, last_seen, heartbeat_ms FROM hosts WHERE state IN ('online','heartbeat') AND last_seen IS NOT NULL AND ? - last_seen >= ? * heartbeat_ms + ?").all(
        now,
        beats,
        graceMs,
      ) as Array<{ name: string; last_seen: number; heartbeat_ms: number }>
    ).map((r) => ({ name: r.name, lastSeen: r.last_seen, heartbeatMs: r.heartbeat_ms }));
  }

  setHostState(name: string, state: string): void {
    this.q("UPDATE hosts SET state = ? WHERE name = ?").run(state, name);
  }

  // ---- tasks & results ----

  insertTask(t: TaskRow): void {
    this.q(`INSERT INTO tasks (id, command, argv, target, user, created_at, expires_at, timeout_ms, ttl_ms, batch, max_output, cancel_requested, origin)
      VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`).run(
      t.id,
      t.command,
      t.argv ? JSON.stringify(t.argv) : null,
      JSON.stringify(t.target),
      t.user,
      t.createdAt,
      t.expiresAt,
      t.timeoutMs,
      t.ttlMs,
      t.batch,
      t.maxOutput,
      t.cancelRequested ? 1 : 0,
      t.origin,
    );
  }

  /** The file a `warren push` task carries (kept apart from tasks: listings never read it). */
  insertTaskFile(taskId: number, f: PushSpec): void {
    this.q("INSERT INTO task_files (task_id, name, dest, mode, size, sha256, data) VALUES (?,?,?,?,?,?,?)").run(taskId, f.name, f.dest, f.mode, f.size, f.sha256, Buffer.from(f.data, "base64"));
  }

  taskFile(taskId: number): PushSpec | undefined {
    const r = this.q("SELECT * FROM task_files WHERE task_id = ?").get(taskId) as { name: string; dest: string | null; mode: number; size: number; sha256: string; data: Buffer } | undefined;
    return r ? { name: r.name, dest: r.dest, mode: r.mode, size: r.size, sha256: r.sha256, data: r.data.toString("base64") } : undefined;
  }

  /** The task's --batch size, or undefined if there is no such task (cheap: no JSON). */
  taskBatch(id: number): number | undefined {
    return (this.q("SELECT batch FROM tasks WHERE id = ?").get(id) as { batch: number } | undefined)?.batch;
  }

  task(id: number): TaskRow | undefined {
    const r = this.q("SELECT * FROM tasks WHERE id = ?").get(id) as Record<string, unknown> | undefined;
    return r ? toTask(r) : undefined;
  }

  /**
   * Recent tasks, newest first, with per-status counts. Filters (all optional, combined): a host
   * among its targets; a status one of its hosts is in, or "active" (some host not final) /
   * "done"; who submitted it; created at or after `since` (ms).
   */
  tasks(limit: number, f: TaskFilter = {}): Array<TaskRow & { counts: Record<string, number> }> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.host) where.push("EXISTS (SELECT 1 FROM results r WHERE r.task_id = t.id AND r.host = ?)"), args.push(f.host);
    if (f.status === "active") where.push("EXISTS (SELECT 1 FROM results r WHERE r.task_id = t.id AND r.status IN ('pending','queued','running'))");
    else if (f.status === "done") where.push("NOT EXISTS (SELECT 1 FROM results r WHERE r.task_id = t.id AND r.status IN ('pending','queued','running'))");
    else if (f.status) where.push("EXISTS (SELECT 1 FROM results r WHERE r.task_id = t.id AND r.status = ?)"), args.push(f.status);
    if (f.user) where.push("t.user = ?"), args.push(f.user);
    if (f.since !== undefined) where.push("t.created_at >= ?"), args.push(f.since);
    const sql = `SELECT * FROM tasks t ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at DESC, id DESC LIMIT ?`;
    const rows = (this.q(sql).all(...args, limit) as Array<Record<string, unknown>>).map(toTask);
    return rows.map((t) => ({ ...t, counts: this.counts(t.id) }));
  }

  setCancelRequested(id: number): void {
    this.q("UPDATE tasks SET cancel_requested = 1 WHERE id = ?").run(id);
  }

  insertResult(taskId: number, host: string, status: HostStatus, batchNo: number): void {
    this.q("INSERT OR IGNORE INTO results (task_id, host, status, batch_no) VALUES (?,?,?,?)").run(taskId, host, status, batchNo);
  }

  /** Per-status row counts of one task. */
  counts(taskId: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of this.q("SELECT status, COUNT(*) AS n FROM results WHERE task_id = ? GROUP BY status").all(taskId) as Array<{ status: string; n: number }>) out[c.status] = c.n;
    return out;
  }

  hasPending(taskId: number): boolean {
    return !!this.q("SELECT 1 FROM results WHERE task_id = ? AND status = 'pending' LIMIT 1").get(taskId);
  }

  /** What dispatch needs of each row: the full rows (output columns and all) of 10,000 hosts took ~100 ms to read. */
  dispatchRows(taskId: number): Array<{ host: string; status: HostStatus; batchNo: number; nonce: string | null }> {
    return this.q("SELECT host, status, batch_no AS batchNo, nonce FROM results WHERE task_id = ? ORDER BY host").all(taskId) as Array<{
      host: string;
      status: HostStatus;
      batchNo: number;
      nonce: string | null;
    }>;
  }

  results(taskId: number): ResultRow[] {
    return (this.q("SELECT * FROM results WHERE task_id = ? ORDER BY host").all(taskId) as Array<Record<string, unknown>>).map(toResult);
  }

  result(taskId: number, host: string): ResultRow | undefined {
    const r = this.q("SELECT * FROM results WHERE task_id = ? AND host = ?").get(taskId, host) as Record<string, unknown> | undefined;
    return r ? toResult(r) : undefined;
  }

  /**
   * A new task's rows, one per host, 'pending', in one statement: the task id is answered after
   * this, and 10,000 single-row inserts took 15 ms where this takes 2 ms. Batch numbers as
   * submit numbers them: the host's position divided by the batch size.
   */
  insertPending(taskId: number, hosts: string[], batch: number): void {
    this.q("INSERT OR IGNORE INTO results (task_id, host, status, batch_no) SELECT ?, value, 'pending', CASE WHEN ? > 0 THEN CAST(key / ? AS INTEGER) ELSE 0 END FROM json_each(?)").run(
      taskId,
      batch,
      batch,
      JSON.stringify(hosts),
    );
  }

  /** markQueued for many hosts sent one nonce (a group's messages), in one statement. */
  markQueuedMany(taskId: number, hosts: string[], nonce: string, target: Target): void {
    this.q("UPDATE results SET status = 'queued', nonce = ?, dispatch_target = ?, queued_at = ? WHERE task_id = ? AND status = 'pending' AND host IN (SELECT value FROM json_each(?))").run(
      nonce,
      JSON.stringify(target),
      Date.now(),
      taskId,
      JSON.stringify(hosts),
    );
  }

  /** A nonce for each of these hosts' rows that has none yet, in one statement. */
  setNonceMany(taskId: number, hosts: string[], nonce: string): void {
    this.q("UPDATE results SET nonce = ? WHERE task_id = ? AND nonce IS NULL AND host IN (SELECT value FROM json_each(?))").run(nonce, taskId, JSON.stringify(hosts));
  }

  markQueued(taskId: number, host: string, nonce: string, target: Target): void {
    this.q("UPDATE results SET status = 'queued', nonce = ?, dispatch_target = ?, queued_at = ? WHERE task_id = ? AND host = ? AND status = 'pending'").run(
      nonce,
      JSON.stringify(target),
      Date.now(),
      taskId,
      host,
    );
  }

  markRunning(taskId: number, host: string, at: number): void {
    this.q("UPDATE results SET status = 'running', started_at = ? WHERE task_id = ? AND host = ? AND status IN ('pending','queued')").run(at, taskId, host);
  }

  appendOutput(taskId: number, host: string, stream: "stdout" | "stderr", data: string): boolean {
    const col = stream === "stdout" ? "stdout" : "stderr";
    const r = this.q(`UPDATE results SET ${col} = substr(${col} || ?, 1, ${LIVE_OUTPUT_CAP}), status = CASE WHEN status IN ('pending','queued') THEN 'running' ELSE status END
      WHERE task_id = ? AND host = ? AND status IN ('pending','queued','running')`).run(data, taskId, host);
    return r.changes > 0;
  }

  /** First final status wins; returns false when the row was already final (the message is then only audited). */
  /** `cur`: the row as the caller just read it (saves a read on the per-result path). */
  applyFinal(r: ResultMessage & { task: number }, cur: ResultRow | undefined = this.result(r.task, r.host)): boolean {
    if (cur && isFinal(cur.status)) return false;
    if (!cur) this.insertResult(r.task, r.host, r.status, 0);
    this.q(`UPDATE results SET status = ?, exit_code = ?, signal = ?, stdout = ?, stderr = ?, truncated = ?, error = ?,
      nonce = COALESCE(nonce, ?), started_at = COALESCE(started_at, ?), finished_at = ? WHERE task_id = ? AND host = ?`).run(
      r.status,
      r.exitCode ?? null,
      r.signal ?? null,
      r.stdout ?? cur?.stdout ?? "",
      r.stderr ?? cur?.stderr ?? "",
      r.truncated ? 1 : 0,
      r.error ?? null,
      r.nonce,
      r.startedAt ?? null,
      r.finishedAt,
      r.task,
      r.host,
    );
    return true;
  }

  /**
   * The sweeper's three questions, each answered in SQL so that a second's sweep of a task with
   * 10,000 open rows reads only the rows it acts on (it used to read and convert every open row,
   * JSON included, and look up each running row's host: a third of the collector's CPU while a
   * 10,000-host task ran). Rows pending or queued whose task's TTL ran out `graceMs` ago:
   */
  staleOpenResults(now: number, graceMs: number): Array<{ taskId: number; host: string; status: HostStatus }> {
    return this.q(`SELECT r.task_id AS taskId, r.host AS host, r.status AS status FROM results r JOIN tasks t ON t.id = r.task_id
      WHERE r.status IN ('pending','queued') AND ? > t.expires_at + ? ORDER BY r.task_id, r.batch_no, r.host`).all(now, graceMs) as Array<{
      taskId: number;
      host: string;
      status: HostStatus;
    }>;
  }

  /**
   * Rows running past their deadline (started, else queued, + timeout + `graceMs`) whose host has
   * been silent for more than 3 heartbeats + `graceMs` (or was never seen).
   */
  overdueRunning(now: number, graceMs: number): Array<{ taskId: number; host: string; nonce: string | null }> {
    return this.q(`SELECT r.task_id AS taskId, r.host AS host, r.nonce AS nonce FROM results r JOIN tasks t ON t.id = r.task_id LEFT JOIN hosts h ON h.name = r.host
      WHERE r.status = 'running' AND ? > COALESCE(r.started_at, r.queued_at, ?) + t.timeout_ms + ?
        AND (h.last_seen IS NULL OR h.last_seen = 0 OR ? - h.last_seen > 3 * h.heartbeat_ms + ?)
      ORDER BY r.task_id, r.batch_no, r.host`).all(now, now, graceMs, now, graceMs) as Array<{ taskId: number; host: string; nonce: string | null }>;
  }

  /** Tasks with rows not yet sent (the dispatcher resumes them). */
  tasksWithPending(): number[] {
    return (this.q("SELECT DISTINCT task_id AS id FROM results WHERE status = 'pending' ORDER BY task_id").all() as Array<{ id: number }>).map((r) => r.id);
  }
}

function toTask(r: Record<string, unknown>): TaskRow {
  return {
    id: r.id as number,
    command: r.command as string,
    argv: r.argv ? (JSON.parse(r.argv as string) as string[]) : null,
    target: r.target ? (JSON.parse(r.target as string) as TaskRow["target"]) : null,
    user: r.user as string,
    createdAt: r.created_at as number,
    expiresAt: r.expires_at as number,
    timeoutMs: r.timeout_ms as number,
    ttlMs: r.ttl_ms as number,
    batch: r.batch as number,
    maxOutput: (r.max_output as number | null) ?? null,
    cancelRequested: !!r.cancel_requested,
    origin: r.origin as string,
  };
}

function toResult(r: Record<string, unknown>): ResultRow {
  return {
    taskId: r.task_id as number,
    host: r.host as string,
    status: r.status as HostStatus,
    exitCode: (r.exit_code as number | null) ?? null,
    signal: (r.signal as string | null) ?? null,
    stdout: r.stdout as string,
    stderr: r.stderr as string,
    truncated: !!r.truncated,
    error: (r.error as string | null) ?? null,
    nonce: (r.nonce as string | null) ?? null,
    batchNo: r.batch_no as number,
    dispatchTarget: r.dispatch_target ? (JSON.parse(r.dispatch_target as string) as Target) : null,
    queuedAt: (r.queued_at as number | null) ?? null,
    startedAt: (r.started_at as number | null) ?? null,
    finishedAt: (r.finished_at as number | null) ?? null,
  };
}
