/**
 * Monitoring's SQLite file, <data-dir>/fleet/metrics.db (its own WAL, apart
 * from fleet.db): templates and their links, series, samples (a raw head
 * compacted into Gorilla-encoded chunks), 1-minute and 1-hour rollups,
 * per-host ingest state, alert-instance state, the append-only alert event
 * log, the sinks' outbox, silences and webhooks.
 *
 * The head (`recent`) is one row per received batch, its samples packed as
 * (u32 series id, f64 value) pairs: one insert per host tick, not per sample
 * (per-sample rows cost ~3x the CPU in the m1 bench's profile). Compaction
 * turns old head rows into one Gorilla chunk per series.
 *
 * Invariant: one ingest transaction holds the samples, the hosts' last seq,
 * the rule states and the events (with their outbox rows); the collector acks
 * the batches only after it commits. So a crash at any point either keeps
 * all of a batch's effects or none, and a redelivered batch is skipped by seq.
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { decodeChunk, encodeChunk } from "./codec.js";
import type { AlertEvent, AlertState } from "./protocol.js";
import type { InstanceState } from "./rules.js";
import type { Link } from "./template.js";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS templates (name TEXT PRIMARY KEY, body TEXT NOT NULL, source TEXT NOT NULL, updated_at INTEGER NOT NULL, updated_by TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS template_links (template TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('group','host')), target TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (template, kind, target));
CREATE TABLE IF NOT EXISTS mon_hosts (host TEXT PRIMARY KEY, last_seq INTEGER NOT NULL DEFAULT 0, last_t INTEGER, last_recv INTEGER,
  state TEXT NOT NULL DEFAULT 'up', rev TEXT);
CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, host TEXT NOT NULL, item TEXT NOT NULL, UNIQUE (host, item));
CREATE TABLE IF NOT EXISTS host_ids (id INTEGER PRIMARY KEY, host TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS recent (host_id INTEGER NOT NULL, seq INTEGER NOT NULL, t INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (host_id, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS recent_t ON recent (t);
CREATE TABLE IF NOT EXISTS chunks (series_id INTEGER NOT NULL, t0 INTEGER NOT NULL, t1 INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (series_id, t0));
CREATE TABLE IF NOT EXISTS rollups (series_id INTEGER NOT NULL, res INTEGER NOT NULL, t INTEGER NOT NULL, min REAL, max REAL, sum REAL, cnt INTEGER, last REAL,
  PRIMARY KEY (series_id, res, t)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS item_errors (series_id INTEGER PRIMARY KEY, t INTEGER NOT NULL, error TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rule_state (alert TEXT PRIMARY KEY, host TEXT NOT NULL, rule TEXT NOT NULL, st TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alert_events (id INTEGER PRIMARY KEY AUTOINCREMENT, alert TEXT NOT NULL, state TEXT NOT NULL, rule TEXT NOT NULL, host TEXT NOT NULL,
  item TEXT, value REAL, threshold TEXT, severity TEXT NOT NULL, seq INTEGER, t INTEGER NOT NULL, since INTEGER NOT NULL, at INTEGER NOT NULL,
  silenced INTEGER NOT NULL DEFAULT 0, inhibited INTEGER NOT NULL DEFAULT 0, note TEXT);
CREATE INDEX IF NOT EXISTS alert_events_host ON alert_events (host, id);
CREATE TRIGGER IF NOT EXISTS alert_events_no_update BEFORE UPDATE ON alert_events BEGIN SELECT RAISE(ABORT, 'alert events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS alert_events_no_delete BEFORE DELETE ON alert_events BEGIN SELECT RAISE(ABORT, 'alert events are append-only'); END;
CREATE TABLE IF NOT EXISTS outbox (event_id INTEGER NOT NULL, sink TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL,
  last_error TEXT, PRIMARY KEY (event_id, sink));
CREATE TABLE IF NOT EXISTS silences (id INTEGER PRIMARY KEY AUTOINCREMENT, host TEXT, grp TEXT, rule TEXT, starts INTEGER NOT NULL, ends INTEGER NOT NULL,
  comment TEXT NOT NULL DEFAULT '', created_by TEXT NOT NULL, ended_done INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS webhooks (id INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL, severity TEXT, grp TEXT, group_wait_ms INTEGER NOT NULL, repeat_ms INTEGER NOT NULL DEFAULT 14400000,
  created_by TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_repeats (event_id INTEGER NOT NULL, webhook INTEGER NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (event_id, webhook)) WITHOUT ROWID;
`;

export interface SampleRow {
  t: number;
  v: number;
  seq: number | null;
}
export interface SeriesPoint {
  t: number;
  min: number;
  max: number;
  avg: number;
  last: number;
  n: number;
}
export interface SilenceRow {
  id: number;
  host: string | null;
  group: string | null;
  rule: string | null;
  starts: number;
  ends: number;
  comment: string;
  createdBy: string;
  endedDone: boolean;
}
export interface WebhookRow {
  id: number;
  url: string;
  severity: string | null;
  group: string | null;
  groupWaitMs: number;
  repeatMs: number;
  createdBy: string;
  createdAt: number;
}
export interface HostMonRow {
  host: string;
  lastSeq: number;
  lastT: number | null;
  lastRecv: number | null;
  state: string;
  rev: string | null;
}

export const RES_1M = 60_000;
export const RES_1H = 3_600_000;

export interface Retention {
  rawMs: number;
  minuteMs: number;
  hourMs: number;
}
export const DEFAULT_RETENTION: Retention = { rawMs: 2 * 86_400_000, minuteMs: 30 * 86_400_000, hourMs: 400 * 86_400_000 };

type Stmt = Database.Statement;

export class MetricsStore {
  readonly db: Database.Database;
  private seriesIds = new Map<string, number>();
  private hostIds = new Map<string, number>();
  /** series id → its host id (a head row holds one host's series) */
  private seriesHost = new Map<number, number>();
  private q: Record<string, Stmt>;

  constructor(readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.exec(SCHEMA);
    // files from before webhook repeats
    if (!(this.db.prepare("PRAGMA table_info(webhooks)").all() as Array<{ name: string }>).some((c) => c.name === "repeat_ms"))
      this.db.exec("ALTER TABLE webhooks ADD COLUMN repeat_ms INTEGER NOT NULL DEFAULT 14400000");
    const p = (s: string): Stmt => this.db.prepare(s);
    this.q = {
      seriesIns: p("INSERT INTO series (host, item) VALUES (?, ?) ON CONFLICT(host, item) DO UPDATE SET item = excluded.item RETURNING id"),
      batchIns: p("INSERT OR REPLACE INTO recent (host_id, seq, t, data) VALUES (?,?,?,?)"),
      hostIdIns: p("INSERT INTO host_ids (host) VALUES (?) ON CONFLICT(host) DO UPDATE SET host = excluded.host RETURNING id"),
      hostUpd: p(`INSERT INTO mon_hosts (host, last_seq, last_t, last_recv, state, rev) VALUES (?,?,?,?,?,?)
        ON CONFLICT(host) DO UPDATE SET last_seq = excluded.last_seq, last_t = excluded.last_t, last_recv = excluded.last_recv, state = excluded.state, rev = excluded.rev`),
      hostState: p("UPDATE mon_hosts SET state = ? WHERE host = ?"),
      stateUpsert: p("INSERT INTO rule_state (alert, host, rule, st) VALUES (?,?,?,?) ON CONFLICT(alert) DO UPDATE SET st = excluded.st"),
      eventIns: p(`INSERT INTO alert_events (alert, state, rule, host, item, value, threshold, severity, seq, t, since, at, silenced, inhibited, note)
        VALUES (@alert,@state,@rule,@host,@item,@value,@threshold,@severity,@seq,@t,@since,@at,@silenced,@inhibited,@note)`),
      outboxIns: p("INSERT OR IGNORE INTO outbox (event_id, sink, next_at) VALUES (?,?,?)"),
      errUpsert: p("INSERT INTO item_errors (series_id, t, error) VALUES (?,?,?) ON CONFLICT(series_id) DO UPDATE SET t = excluded.t, error = excluded.error"),
      errDel: p("DELETE FROM item_errors WHERE series_id = ?"),
    };
    for (const r of this.db.prepare("SELECT id, host FROM host_ids").all() as Array<{ id: number; host: string }>) this.hostIds.set(r.host, r.id);
    for (const r of this.db.prepare("SELECT id, host, item FROM series").all() as Array<{ id: number; host: string; item: string }>) {
      this.seriesIds.set(`${r.host}\0${r.item}`, r.id);
      this.seriesHost.set(r.id, this.hostId(r.host));
      let m = this.byHost.get(r.host);
      if (!m) this.byHost.set(r.host, (m = new Map()));
      m.set(r.item, r.id);
    }
  }

  close(): void {
    this.db.close();
  }

  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  // ---- templates ----

  putTemplate(name: string, body: string, source: string, by: string): void {
    this.db
      .prepare(
        "INSERT INTO templates (name, body, source, updated_at, updated_by) VALUES (?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET body = excluded.body, source = excluded.source, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
      )
      .run(name, body, source, Date.now(), by);
  }

  templates(): Array<{ name: string; body: string; source: string; updatedAt: number; updatedBy: string }> {
    return (this.db.prepare("SELECT * FROM templates ORDER BY name").all() as Array<Record<string, unknown>>).map((r) => ({
      name: r.name as string,
      body: r.body as string,
      source: r.source as string,
      updatedAt: r.updated_at as number,
      updatedBy: r.updated_by as string,
    }));
  }

  deleteTemplate(name: string): boolean {
    this.db.prepare("DELETE FROM template_links WHERE template = ?").run(name);
    return this.db.prepare("DELETE FROM templates WHERE name = ?").run(name).changes > 0;
  }

  links(): Link[] {
    return (this.db.prepare("SELECT * FROM template_links ORDER BY template, kind, target").all() as Array<Record<string, unknown>>).map((r) => ({
      template: r.template as string,
      kind: r.kind as Link["kind"],
      target: r.target as string,
      priority: r.priority as number,
    }));
  }

  link(l: Link): void {
    this.db
      .prepare("INSERT INTO template_links (template, kind, target, priority) VALUES (?,?,?,?) ON CONFLICT(template, kind, target) DO UPDATE SET priority = excluded.priority")
      .run(l.template, l.kind, l.target, l.priority);
  }

  unlink(template: string, kind: string, target: string): boolean {
    return this.db.prepare("DELETE FROM template_links WHERE template = ? AND kind = ? AND target = ?").run(template, kind, target).changes > 0;
  }

  // ---- ingest ----

  hostId(host: string): number {
    let id = this.hostIds.get(host);
    if (id === undefined) {
      id = (this.q.hostIdIns!.get(host) as { id: number }).id;
      this.hostIds.set(host, id);
    }
    return id;
  }

  /** host → item → series id: two lookups, no key string built per sample */
  private byHost = new Map<string, Map<string, number>>();

  seriesId(host: string, item: string): number {
    let m = this.byHost.get(host);
    if (!m) this.byHost.set(host, (m = new Map()));
    let id = m.get(item);
    if (id === undefined) {
      id = (this.q.seriesIns!.get(host, item) as { id: number }).id;
      m.set(item, id);
      this.seriesIds.set(`${host}\0${item}`, id);
      this.seriesHost.set(id, this.hostId(host));
    }
    return id;
  }

  findSeries(host: string, item: string): number | undefined {
    return this.seriesIds.get(`${host}\0${item}`);
  }

  /** One host tick into the head: `n` pairs of (series id, value) from the arrays given. */
  addBatch(host: string, t: number, seq: number, sids: ArrayLike<number>, vals: ArrayLike<number>, n: number): void {
    const data = Buffer.allocUnsafe(n * 12);
    for (let i = 0; i < n; i++) {
      data.writeUInt32LE(sids[i]!, i * 12);
      data.writeDoubleLE(vals[i]!, i * 12 + 4);
    }
    this.q.batchIns!.run(this.hostId(host), seq, t, data);
  }

  /** Head rows of one host in [from, to], decoded for the wanted series (all when `sid` is null). */
  private headRows(hostId: number, from: number, to: number, order: "ASC" | "DESC" = "ASC", limit = -1): Array<{ t: number; seq: number; data: Buffer }> {
    return this.db.prepare(`SELECT t, seq, data FROM recent WHERE host_id = ? AND t >= ? AND t <= ? ORDER BY seq ${order} LIMIT ?`).all(hostId, from, to, limit) as Array<{
      t: number;
      seq: number;
      data: Buffer;
    }>;
  }

  /** Samples in the head, for bytes-per-sample figures. */
  headSamples(): number {
    return (this.db.prepare("SELECT COALESCE(SUM(LENGTH(data)), 0) AS b FROM recent").get() as { b: number }).b / 12;
  }

  setItemError(sid: number, t: number, error: string | null): void {
    if (error === null) this.q.errDel!.run(sid);
    else this.q.errUpsert!.run(sid, t, error.slice(0, 500));
  }

  hostsMon(): HostMonRow[] {
    return (this.db.prepare("SELECT * FROM mon_hosts").all() as Array<Record<string, unknown>>).map((r) => ({
      host: r.host as string,
      lastSeq: r.last_seq as number,
      lastT: r.last_t as number | null,
      lastRecv: r.last_recv as number | null,
      state: r.state as string,
      rev: r.rev as string | null,
    }));
  }

  saveHost(h: HostMonRow): void {
    this.q.hostUpd!.run(h.host, h.lastSeq, h.lastT, h.lastRecv, h.state, h.rev);
  }

  ruleStates(): Array<{ alert: string; host: string; rule: string; st: InstanceState }> {
    return (this.db.prepare("SELECT * FROM rule_state").all() as Array<Record<string, unknown>>).map((r) => ({
      alert: r.alert as string,
      host: r.host as string,
      rule: r.rule as string,
      st: JSON.parse(r.st as string) as InstanceState,
    }));
  }

  saveState(alert: string, host: string, rule: string, st: InstanceState): void {
    this.q.stateUpsert!.run(alert, host, rule, JSON.stringify(st));
  }

  /** Append an event and its outbox rows (same transaction as the caller's). */
  addEvent(e: Omit<AlertEvent, "id">, sinks: string[]): AlertEvent {
    const r = this.q.eventIns!.run({ ...e, silenced: e.silenced ? 1 : 0, inhibited: e.inhibited ? 1 : 0 });
    const id = Number(r.lastInsertRowid);
    for (const s of sinks) this.q.outboxIns!.run(id, s, e.at);
    return { ...e, id };
  }

  events(o: { afterId?: number | undefined; host?: string | undefined; limit?: number | undefined; alert?: string | undefined }): AlertEvent[] {
    const where: string[] = ["id > ?"];
    const args: unknown[] = [o.afterId ?? 0];
    if (o.host) where.push("host = ?"), args.push(o.host);
    if (o.alert) where.push("alert = ?"), args.push(o.alert);
    const rows = this.db.prepare(`SELECT * FROM alert_events WHERE ${where.join(" AND ")} ORDER BY id ${o.afterId ? "ASC" : "DESC"} LIMIT ?`).all(...args, o.limit ?? 100) as Array<
      Record<string, unknown>
    >;
    const out = rows.map(toEvent);
    return o.afterId ? out : out.reverse();
  }

  event(id: number): AlertEvent | undefined {
    const r = this.db.prepare("SELECT * FROM alert_events WHERE id = ?").get(id) as Record<string, unknown> | undefined;
    return r ? toEvent(r) : undefined;
  }

  // ---- outbox ----

  dueOutbox(sinkPrefix: string, now: number, limit = 500): Array<{ eventId: number; sink: string; attempts: number; nextAt: number }> {
    return (this.db.prepare("SELECT * FROM outbox WHERE sink LIKE ? AND next_at <= ? ORDER BY event_id LIMIT ?").all(`${sinkPrefix}%`, now, limit) as Array<Record<string, unknown>>).map((r) => ({
      eventId: r.event_id as number,
      sink: r.sink as string,
      attempts: r.attempts as number,
      nextAt: r.next_at as number,
    }));
  }

  /** Queue an event for a sink again (a repeat notification); false when it is still queued. */
  /**
   * A repeat of firing event `eventId` to webhook `webhook`: queued for delivery and its time
   * kept, in one transaction, so a restarted collector counts the next repeat from it.
   */
  repeat(eventId: number, webhook: number, at: number): void {
    this.db.transaction(() => {
      this.q.outboxIns!.run(eventId, `webhook:${webhook}`, at);
      this.db.prepare("INSERT INTO webhook_repeats (event_id, webhook, at) VALUES (?,?,?) ON CONFLICT(event_id, webhook) DO UPDATE SET at = excluded.at").run(eventId, webhook, at);
    })();
  }

  /** When firing event `eventId` was last repeated to `webhook`, if ever. */
  lastRepeat(eventId: number, webhook: number): number | undefined {
    const r = this.db.prepare("SELECT at FROM webhook_repeats WHERE event_id = ? AND webhook = ?").get(eventId, webhook) as { at: number } | undefined;
    return r?.at;
  }

  /** The latest firing/flapping event of an alert (what a repeat re-sends). */
  lastFiring(alert: string): AlertEvent | undefined {
    const r = this.db.prepare("SELECT * FROM alert_events WHERE alert = ? AND state IN ('firing','flapping') ORDER BY id DESC LIMIT 1").get(alert) as Record<string, unknown> | undefined;
    return r ? toEvent(r) : undefined;
  }

  outboxDone(eventId: number, sink: string): void {
    this.db.prepare("DELETE FROM outbox WHERE event_id = ? AND sink = ?").run(eventId, sink);
  }

  outboxRetry(eventId: number, sink: string, attempts: number, nextAt: number, error: string): void {
    this.db.prepare("UPDATE outbox SET attempts = ?, next_at = ?, last_error = ? WHERE event_id = ? AND sink = ?").run(attempts, nextAt, error.slice(0, 500), eventId, sink);
  }

  // ---- silences and webhooks ----

  addSilence(s: Omit<SilenceRow, "id" | "endedDone">): number {
    return Number(
      this.db.prepare("INSERT INTO silences (host, grp, rule, starts, ends, comment, created_by) VALUES (?,?,?,?,?,?,?)").run(s.host, s.group, s.rule, s.starts, s.ends, s.comment, s.createdBy)
        .lastInsertRowid,
    );
  }

  silences(): SilenceRow[] {
    return (this.db.prepare("SELECT * FROM silences ORDER BY id").all() as Array<Record<string, unknown>>).map((r) => ({
      id: r.id as number,
      host: r.host as string | null,
      group: r.grp as string | null,
      rule: r.rule as string | null,
      starts: r.starts as number,
      ends: r.ends as number,
      comment: r.comment as string,
      createdBy: r.created_by as string,
      endedDone: !!r.ended_done,
    }));
  }

  endSilence(id: number, now: number): boolean {
    return this.db.prepare("UPDATE silences SET ends = MIN(ends, ?) WHERE id = ?").run(now, id).changes > 0;
  }

  markSilenceEnded(id: number): void {
    this.db.prepare("UPDATE silences SET ended_done = 1 WHERE id = ?").run(id);
  }

  addWebhook(w: Omit<WebhookRow, "id" | "createdAt">): number {
    return Number(
      this.db
        .prepare("INSERT INTO webhooks (url, severity, grp, group_wait_ms, repeat_ms, created_by, created_at) VALUES (?,?,?,?,?,?,?)")
        .run(w.url, w.severity, w.group, w.groupWaitMs, w.repeatMs, w.createdBy, Date.now()).lastInsertRowid,
    );
  }

  webhooks(): WebhookRow[] {
    return (this.db.prepare("SELECT * FROM webhooks ORDER BY id").all() as Array<Record<string, unknown>>).map((r) => ({
      id: r.id as number,
      url: r.url as string,
      severity: r.severity as string | null,
      group: r.grp as string | null,
      groupWaitMs: r.group_wait_ms as number,
      repeatMs: r.repeat_ms as number,
      createdBy: r.created_by as string,
      createdAt: r.created_at as number,
    }));
  }

  removeWebhook(id: number): boolean {
    this.db.prepare("DELETE FROM outbox WHERE sink = ?").run(`webhook:${id}`);
    return this.db.prepare("DELETE FROM webhooks WHERE id = ?").run(id).changes > 0;
  }

  // ---- queries ----

  /** Latest stored value of each of the host's series (+ its error, if the item is unsupported now). */
  latest(host: string): Array<{ item: string; t: number | null; v: number | null; seq: number | null; error: string | null; errorAt: number | null }> {
    const series = this.db.prepare("SELECT s.id, s.item, e.error, e.t AS et FROM series s LEFT JOIN item_errors e ON e.series_id = s.id WHERE s.host = ? ORDER BY s.item").all(host) as Array<{
      id: number;
      item: string;
      error: string | null;
      et: number | null;
    }>;
    const found = new Map<number, { t: number; v: number; seq: number | null }>();
    const hid = this.hostIds.get(host);
    if (hid !== undefined) {
      // newest head rows first, until every series has its latest value (bounded)
      for (const r of this.headRows(hid, 0, Number.MAX_SAFE_INTEGER, "DESC", 2000)) {
        for (let o = 0; o < r.data.length; o += 12) {
          const sid = r.data.readUInt32LE(o);
          if (!found.has(sid)) found.set(sid, { t: r.t, v: r.data.readDoubleLE(o + 4), seq: r.seq });
        }
        if (found.size >= series.length) break;
      }
    }
    for (const s of series) {
      if (found.has(s.id)) continue;
      const c = this.db.prepare("SELECT data FROM chunks WHERE series_id = ? ORDER BY t0 DESC LIMIT 1").get(s.id) as { data: Buffer } | undefined;
      if (c) {
        const d = decodeChunk(c.data);
        if (d.ts.length) found.set(s.id, { t: d.ts[d.ts.length - 1]!, v: d.vs[d.vs.length - 1]!, seq: null });
      }
    }
    return series.map((s) => {
      const f = found.get(s.id);
      return { item: s.item, t: f?.t ?? null, v: f?.v ?? null, seq: f?.seq ?? null, error: s.error ?? null, errorAt: s.et ?? null };
    });
  }

  /** Every host's values from its newest head row (loads the Prometheus mirror at start). */
  latestAll(): Array<{ host: string; item: string; t: number; v: number }> {
    const names = new Map([...this.seriesIds].map(([k, id]) => [id, k.split("\0") as [string, string]]));
    const out: Array<{ host: string; item: string; t: number; v: number }> = [];
    for (const r of this.db
      .prepare("SELECT r.t, r.data FROM recent r JOIN (SELECT host_id, MAX(seq) AS seq FROM recent GROUP BY host_id) m ON m.host_id = r.host_id AND m.seq = r.seq")
      .all() as Array<{ t: number; data: Buffer }>) {
      for (let o = 0; o < r.data.length; o += 12) {
        const n = names.get(r.data.readUInt32LE(o));
        if (n) out.push({ host: n[0], item: n[1], t: r.t, v: r.data.readDoubleLE(o + 4) });
      }
    }
    return out;
  }

  itemErrors(): Array<{ host: string; item: string; error: string }> {
    return this.db.prepare("SELECT s.host, s.item, e.error FROM item_errors e JOIN series s ON s.id = e.series_id").all() as Array<{ host: string; item: string; error: string }>;
  }

  /** Raw samples in [from, to]: the head's rows and decoded chunks. */
  raw(sid: number, from: number, to: number): SampleRow[] {
    const out: SampleRow[] = [];
    for (const c of this.db.prepare("SELECT data FROM chunks WHERE series_id = ? AND t1 >= ? AND t0 <= ? ORDER BY t0").all(sid, from, to) as Array<{ data: Buffer }>) {
      const d = decodeChunk(c.data);
      for (let i = 0; i < d.ts.length; i++) if (d.ts[i]! >= from && d.ts[i]! <= to) out.push({ t: d.ts[i]!, v: d.vs[i]!, seq: null });
    }
    const hid = this.seriesHost.get(sid);
    if (hid !== undefined) {
      for (const r of this.headRows(hid, from, to)) {
        for (let o = 0; o < r.data.length; o += 12) if (r.data.readUInt32LE(o) === sid) out.push({ t: r.t, v: r.data.readDoubleLE(o + 4), seq: r.seq });
      }
    }
    return out;
  }

  /** Aggregated points of `step` ms; from rollups when the step is a whole number of their resolution. */
  series(sid: number, from: number, to: number, step: number): SeriesPoint[] {
    const buckets = new Map<number, SeriesPoint>();
    const add = (t: number, min: number, max: number, sum: number, n: number, last: number): void => {
      const b = Math.floor(t / step) * step;
      const p = buckets.get(b);
      if (!p) buckets.set(b, { t: b, min, max, avg: sum, last, n });
      else {
        p.min = Math.min(p.min, min);
        p.max = Math.max(p.max, max);
        p.avg += sum;
        p.n += n;
        p.last = last;
      }
    };
    const res = step % RES_1H === 0 ? RES_1H : step % RES_1M === 0 ? RES_1M : 0;
    const rawFrom = res ? this.rawStart(sid) : from;
    if (res) {
      // rollups cover what the raw data no longer has
      for (const r of this.db
        .prepare("SELECT t, min, max, sum, cnt, last FROM rollups WHERE series_id = ? AND res = ? AND t >= ? AND t <= ? AND t < ? ORDER BY t")
        .all(sid, res, from, to, rawFrom ?? Infinity) as Array<{ t: number; min: number; max: number; sum: number; cnt: number; last: number }>)
        add(r.t, r.min, r.max, r.sum, r.cnt, r.last);
    }
    for (const s of this.raw(sid, Math.max(from, rawFrom ?? from), to)) add(s.t, s.v, s.v, s.v, 1, s.v);
    return [...buckets.values()].sort((a, b) => a.t - b.t).map((p) => ({ ...p, avg: p.avg / p.n }));
  }

  private rawStart(sid: number): number | undefined {
    const r = this.db.prepare("SELECT MIN(t0) AS a FROM chunks WHERE series_id = ?").get(sid) as { a: number | null };
    const h = this.db.prepare("SELECT MIN(t) AS a FROM recent WHERE host_id = ?").get(this.seriesHost.get(sid) ?? -1) as { a: number | null };
    const xs = [r.a, h.a].filter((x): x is number => x !== null);
    return xs.length ? Math.min(...xs) : undefined;
  }

  // ---- compaction and retention ----

  /**
   * Move head rows older than `before` into one chunk per series, fold them into the 1-minute and
   * 1-hour rollups, and drop what is past retention. One transaction per series, so a crash
   * leaves each series either compacted or not.
   */
  compact(before: number, retention: Retention, now: number): { series: number; samples: number } {
    let series = 0;
    let samples = 0;
    const hosts = this.db.prepare("SELECT DISTINCT host_id AS id FROM recent WHERE t < ?").all(before) as Array<{ id: number }>;
    const sel = this.db.prepare("SELECT t, data FROM recent WHERE host_id = ? AND t < ? ORDER BY seq");
    const del = this.db.prepare("DELETE FROM recent WHERE host_id = ? AND t < ?");
    const ins = this.db.prepare("INSERT OR REPLACE INTO chunks (series_id, t0, t1, n, data) VALUES (?,?,?,?,?)");
    const roll = this.db.prepare(`INSERT INTO rollups (series_id, res, t, min, max, sum, cnt, last) VALUES (?,?,?,?,?,?,?,?)
      ON CONFLICT(series_id, res, t) DO UPDATE SET min = MIN(min, excluded.min), max = MAX(max, excluded.max), sum = sum + excluded.sum, cnt = cnt + excluded.cnt, last = excluded.last`);
    // one transaction per host: a crash leaves each host's head either compacted or not
    for (const { id } of hosts) {
      this.tx(() => {
        const per = new Map<number, { ts: number[]; vs: number[] }>();
        for (const r of sel.all(id, before) as Array<{ t: number; data: Buffer }>) {
          for (let o = 0; o < r.data.length; o += 12) {
            const sid = r.data.readUInt32LE(o);
            let p = per.get(sid);
            if (!p) per.set(sid, (p = { ts: [], vs: [] }));
            // a series' samples go in time order; a late duplicate timestamp keeps the first
            if (p.ts.length && r.t <= p.ts[p.ts.length - 1]!) continue;
            p.ts.push(r.t);
            p.vs.push(r.data.readDoubleLE(o + 4));
          }
        }
        for (const [sid, p] of per) {
          ins.run(sid, p.ts[0]!, p.ts[p.ts.length - 1]!, p.ts.length, encodeChunk(p.ts, p.vs));
          for (const res of [RES_1M, RES_1H]) {
            const agg = new Map<number, { min: number; max: number; sum: number; cnt: number; last: number }>();
            for (let k = 0; k < p.ts.length; k++) {
              const b = Math.floor(p.ts[k]! / res) * res;
              const v = p.vs[k]!;
              const a = agg.get(b);
              if (!a) agg.set(b, { min: v, max: v, sum: v, cnt: 1, last: v });
              else (a.min = Math.min(a.min, v)), (a.max = Math.max(a.max, v)), (a.sum += v), a.cnt++, (a.last = v);
            }
            for (const [b, a] of agg) roll.run(sid, res, b, a.min, a.max, a.sum, a.cnt, a.last);
          }
          series++;
          samples += p.ts.length;
        }
        del.run(id, before);
      });
    }
    this.tx(() => {
      this.db.prepare("DELETE FROM chunks WHERE t1 < ?").run(now - retention.rawMs);
      this.db.prepare("DELETE FROM recent WHERE t < ?").run(now - retention.rawMs);
      this.db.prepare("DELETE FROM rollups WHERE res = ? AND t < ?").run(RES_1M, now - retention.minuteMs);
      this.db.prepare("DELETE FROM rollups WHERE res = ? AND t < ?").run(RES_1H, now - retention.hourMs);
    });
    return { series, samples };
  }

  /** The oldest head row's time (compaction waits until a chunk's worth has gathered). */
  oldestHead(): number | null {
    return (this.db.prepare("SELECT MIN(t) AS t FROM recent").get() as { t: number | null }).t;
  }

  /** Bytes the raw data takes: encoded chunk bytes and sample count, for bytes/sample figures. */
  chunkStats(): { chunks: number; samples: number; bytes: number } {
    const r = this.db.prepare("SELECT COUNT(*) AS c, COALESCE(SUM(n),0) AS n, COALESCE(SUM(LENGTH(data)),0) AS b FROM chunks").get() as { c: number; n: number; b: number };
    return { chunks: r.c, samples: r.n, bytes: r.b };
  }
}

function toEvent(r: Record<string, unknown>): AlertEvent {
  return {
    id: r.id as number,
    alert: r.alert as string,
    state: r.state as AlertState,
    rule: r.rule as string,
    host: r.host as string,
    item: (r.item as string | null) ?? null,
    value: (r.value as number | null) ?? null,
    threshold: (r.threshold as string | null) ?? null,
    severity: r.severity as string,
    seq: (r.seq as number | null) ?? null,
    t: r.t as number,
    since: r.since as number,
    at: r.at as number,
    silenced: !!r.silenced,
    inhibited: !!r.inhibited,
    note: (r.note as string | null) ?? null,
  };
}
