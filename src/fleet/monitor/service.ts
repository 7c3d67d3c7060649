/**
 * MonitorService: monitoring on the collector's side. It owns templates and
 * their links (to groups and hosts), computes each host's effective template
 * and pushes it, signed, into the host's own queue when it changes (and again
 * when the agent's presence reports another rev: every reconnect and, as a
 * safety net, every heartbeat); it ingests metric batches (samples, rules,
 * alert events in one transaction), raises nodata for hosts that go silent
 * (never for a clean stop, never in the grace after our own start), and feeds
 * the sinks (fleet.alerts, webhooks) from a durable outbox.
 *
 * Invariants: see store.ts (one transaction per ingest, ack after commit);
 * the in-memory mirrors (host state, rule states) are reloaded from SQLite if
 * a transaction fails, so they never run ahead of what is stored.
 */
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { FleetStore } from "../store.js";
import { signPayload, type OperatorKey } from "../sign.js";
import { hostKey } from "../topology.js";
import { alertKey, MAX_BATCH_ITEMS, type AlertEvent, type AlertState, type ConfigPayload, type MetricsBatch } from "./protocol.js";
import { evaluate, newState, type InstanceState } from "./rules.js";
import { DEFAULT_RETENTION, type MetricsStore, RES_1M, type HostMonRow, type Retention, type SilenceRow, type WebhookRow } from "./store.js";
import {
  canonical,
  condText,
  effectiveTemplate,
  isNodata,
  NAME_RE,
  parseTemplate,
  TemplateError,
  ITEM_RE,
  type EffectiveTemplate,
  type Link,
  type MetricRule,
  type NodataRule,
  type Template,
} from "./template.js";
import { alertmanagerPayload } from "./webhook.js";

export interface MonitorPublisher {
  publishCommand(routingKey: string, body: Buffer, expirationMs: number): Promise<boolean>;
  /** persistent, confirmed; messageId = event id so consumers can drop a re-publish */
  publishAlert(routingKey: string, body: Buffer, messageId: string): Promise<void>;
}

export interface MonitorOptions {
  /** after the collector (re)connects, no nodata for this long (default max(nodata, 10 s)) */
  graceMs?: number;
  /** raw head rows older than this are compacted into chunks (default 10 min) */
  compactAfterMs?: number;
  retention?: Retention;
}

export class MonitorError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const CONFIG_TTL_MS = 3_600_000;
/** a push the agent has not confirmed (by presence) is repeated after this long */
const REPUSH_MS = 10_000;
const MIN_GRACE_MS = 10_000;
/** template pushes awaiting their publisher confirms at once */
const PUSH_WINDOW = 500;
/** compaction runs once the head holds this much more than --compact-after: one chunk per series per run */
const CHUNK_SPAN_MS = 30 * 60_000;
const alertId = (rule: string, host: string): string => `${rule}|${host}`;

export class MonitorService extends EventEmitter {
  publisher: MonitorPublisher | undefined;
  private templates = new Map<string, Template>();
  private links: Link[] = [];
  /** effective template per host, with the groups it was computed for */
  private effective = new Map<string, { groupsKey: string; eff: EffectiveTemplate }>();
  private pushed = new Map<string, { rev: string; at: number }>();
  private agentRev = new Map<string, string | null>();
  private hosts = new Map<string, HostMonRow>();
  private states = new Map<string, InstanceState>();
  private latestMem = new Map<string, Map<string, { t: number; v: number }>>();
  private errored = new Set<number>();
  /** when each host last came (back) into view: the nodata clock never starts before it */
  private baseline = new Map<string, number>();
  private connectedAt = Date.now();
  private lastCompact = Date.now();
  private webhookBusy = new Set<string>();
  /** reused per batch: series ids and values going into one head row */
  private sids = new Uint32Array(1024);
  private vals = new Float64Array(1024);
  /** ingest counters since start: batches, samples, and lag (store time − sample time) in power-of-two ms buckets */
  readonly stats = { batches: 0, samples: 0, duplicates: 0, lagBuckets: new Array<number>(24).fill(0) };
  private amqpBusy = false;

  constructor(
    readonly fleet: FleetStore,
    readonly store: MetricsStore,
    private readonly key: OperatorKey,
    private readonly log: (l: string) => void,
    private readonly o: MonitorOptions = {},
  ) {
    super();
    this.setMaxListeners(0);
    this.reload();
  }

  /** (Re)load the in-memory mirrors from SQLite. */
  private reload(): void {
    this.templates.clear();
    for (const t of this.store.templates()) this.templates.set(t.name, JSON.parse(t.body) as Template);
    this.links = this.store.links();
    this.effective.clear();
    this.hosts = new Map(this.store.hostsMon().map((h) => [h.host, h]));
    this.states = new Map(this.store.ruleStates().map((r) => [r.alert, r.st]));
    this.latestMem.clear();
    for (const r of this.store.latestAll()) this.latestOf(r.host).set(r.item, { t: r.t, v: r.v });
    this.errored = new Set((this.store.db.prepare("SELECT series_id FROM item_errors").all() as Array<{ series_id: number }>).map((r) => r.series_id));
  }

  private latestOf(host: string): Map<string, { t: number; v: number }> {
    let m = this.latestMem.get(host);
    if (!m) this.latestMem.set(host, (m = new Map()));
    return m;
  }

  /** The collector got its broker connection: the nodata grace starts now, and agents running a stale rev get theirs. */
  onConnected(): void {
    this.connectedAt = Date.now();
    this.pushed.clear();
    void this.pushChanged(true);
  }

  // ---------------- templates ----------------

  /** Create or replace a template from a parsed document; returns its name and whether it changed. */
  addTemplate(doc: unknown, source: string, user: string, nameHint?: string): { name: string; changed: boolean } {
    let t: Template;
    try {
      t = parseTemplate(stripAssign(doc), nameHint);
    } catch (e) {
      if (e instanceof TemplateError) throw new MonitorError(e.message);
      throw e;
    }
    const body = canonical(t);
    const cur = this.store.templates().find((x) => x.name === t.name);
    if (cur?.body === body) return { name: t.name, changed: false };
    this.store.tx(() => {
      this.store.putTemplate(t.name, body, source.slice(0, 64 * 1024), user);
      this.fleet.audit(user, "template.add", null, { name: t.name, items: Object.keys(t.items).length, rules: t.rules.length });
    });
    this.templates.set(t.name, t);
    void this.pushChanged();
    return { name: t.name, changed: true };
  }

  removeTemplate(name: string, user: string): boolean {
    const ok = this.store.tx(() => this.store.deleteTemplate(name));
    if (!ok) throw new MonitorError(`no template ${name}`, 404);
    this.fleet.audit(user, "template.rm", null, { name });
    this.templates.delete(name);
    this.links = this.store.links();
    void this.pushChanged();
    return true;
  }

  listTemplates(): Array<{ name: string; items: number; rules: number; links: Link[]; updatedAt: number; updatedBy: string }> {
    return this.store.templates().map((r) => {
      const t = JSON.parse(r.body) as Template;
      return { name: r.name, items: Object.keys(t.items).length, rules: t.rules.length, links: this.links.filter((l) => l.template === r.name), updatedAt: r.updatedAt, updatedBy: r.updatedBy };
    });
  }

  showTemplate(name: string): { name: string; template: Template; source: string; links: Link[] } {
    const r = this.store.templates().find((x) => x.name === name);
    if (!r) throw new MonitorError(`no template ${name}`, 404);
    return { name, template: JSON.parse(r.body) as Template, source: r.source, links: this.links.filter((l) => l.template === name) };
  }

  assign(template: string, kind: Link["kind"], target: string, priority: number, user: string): void {
    if (!this.templates.has(template)) throw new MonitorError(`no template ${template}`, 404);
    if (kind !== "group" && kind !== "host") throw new MonitorError("assign to a group or a host");
    if (!NAME_RE.test(target)) throw new MonitorError(`invalid ${kind} name ${JSON.stringify(target)}`);
    if (!Number.isInteger(priority) || Math.abs(priority) > 1_000_000) throw new MonitorError("priority is an integer");
    this.store.tx(() => {
      this.store.link({ template, kind, target, priority });
      this.fleet.audit(user, "template.assign", null, { template, kind, target, priority });
    });
    this.links = this.store.links();
    void this.pushChanged();
  }

  unassign(template: string, kind: string, target: string, user: string): boolean {
    const ok = this.store.tx(() => {
      const r = this.store.unlink(template, kind, target);
      if (r) this.fleet.audit(user, "template.unassign", null, { template, kind, target });
      return r;
    });
    if (!ok) throw new MonitorError(`template ${template} is not assigned to ${kind} ${target}`, 404);
    this.links = this.store.links();
    void this.pushChanged();
    return ok;
  }

  /**
   * Config as code: make the templates and their links exactly what `docs` say. Templates not in
   * `docs` are removed only with `prune`. Idempotent: a second apply changes nothing.
   */
  applyDir(
    docs: Array<{ file: string; doc: unknown; source: string }>,
    prune: boolean,
    user: string,
  ): { added: string[]; changed: string[]; unchanged: string[]; removed: string[]; links: { added: number; removed: number } } {
    const parsed: Array<{ t: Template; source: string; assign: Array<Omit<Link, "template">> }> = [];
    for (const d of docs) {
      try {
        const t = parseTemplate(stripAssign(d.doc), d.file.replace(/\.(ya?ml|json)$/i, "").replace(/^.*\//, ""));
        parsed.push({ t, source: d.source, assign: parseAssign(d.doc, t.name) });
      } catch (e) {
        throw new MonitorError(`${d.file}: ${(e as Error).message}`);
      }
    }
    const names = new Set<string>();
    for (const p of parsed) {
      if (names.has(p.t.name)) throw new MonitorError(`template ${p.t.name} is defined twice`);
      names.add(p.t.name);
    }
    const out = { added: [] as string[], changed: [] as string[], unchanged: [] as string[], removed: [] as string[], links: { added: 0, removed: 0 } };
    this.store.tx(() => {
      const existing = new Map(this.store.templates().map((r) => [r.name, r.body]));
      for (const p of parsed) {
        const body = canonical(p.t);
        const cur = existing.get(p.t.name);
        if (cur === body) out.unchanged.push(p.t.name);
        else {
          (cur === undefined ? out.added : out.changed).push(p.t.name);
          this.store.putTemplate(p.t.name, body, p.source.slice(0, 64 * 1024), user);
        }
        const want = new Map(p.assign.map((a) => [`${a.kind}\0${a.target}`, a]));
        for (const l of this.store.links().filter((x) => x.template === p.t.name)) {
          const w = want.get(`${l.kind}\0${l.target}`);
          if (!w) this.store.unlink(l.template, l.kind, l.target), out.links.removed++;
          else if (w.priority === l.priority) want.delete(`${l.kind}\0${l.target}`);
        }
        for (const w of want.values()) this.store.link({ template: p.t.name, ...w }), out.links.added++;
      }
      if (prune) for (const n of existing.keys()) if (!names.has(n)) this.store.deleteTemplate(n), out.removed.push(n);
      this.fleet.audit(user, "template.apply", null, { ...out, files: docs.length });
    });
    this.templates.clear();
    for (const t of this.store.templates()) this.templates.set(t.name, JSON.parse(t.body) as Template);
    this.links = this.store.links();
    void this.pushChanged();
    return out;
  }

  /** Known hosts: every host Fleet knows (presence or enrolment) plus hosts named in host links. */
  private known: { at: number; hosts: Array<{ name: string; groups: string[] }> } | undefined;

  /** Cached for a few seconds (the nodata timer asks every second); dropped on group and link changes. */
  private knownHosts(): Array<{ name: string; groups: string[] }> {
    if (this.known && Date.now() - this.known.at < 5000) return this.known.hosts;
    this.known = { at: Date.now(), hosts: this.readKnownHosts() };
    return this.known.hosts;
  }

  private readKnownHosts(): Array<{ name: string; groups: string[] }> {
    const out = new Map<string, string[]>();
    for (const h of this.fleet.hosts()) out.set(h.name, h.groups);
    for (const l of this.links) if (l.kind === "host" && !out.has(l.target)) out.set(l.target, []);
    return [...out].map(([name, groups]) => ({ name, groups }));
  }

  private groupsStmt: { all(...a: unknown[]): unknown[] } | undefined;

  /** Every group the host is in: announced by its agent (or enrolment) and assigned centrally (`warren groups assign`). */
  groupsOf(host: string): string[] {
    this.groupsStmt ??= this.fleet.db.prepare("SELECT grp FROM host_groups WHERE host = ? UNION SELECT grp FROM group_assign WHERE host = ? ORDER BY 1");
    return (this.groupsStmt.all(host, host) as Array<{ grp: string }>).map((r) => r.grp);
  }

  /** Central group membership changed (fleet's `groups add|rm|assign`): recompute and push. */
  groupsChanged(): void {
    void this.pushChanged();
  }

  effectiveFor(host: string, groups = this.groupsOf(host)): EffectiveTemplate {
    const groupsKey = groups.join(",");
    const c = this.effective.get(host);
    if (c && c.groupsKey === groupsKey) return c.eff;
    const eff = effectiveTemplate(host, groups, this.links, this.templates);
    this.effective.set(host, { groupsKey, eff });
    return eff;
  }

  /** Recompute every host's effective template; push where it changed (or, with `all`, wherever the agent's differs). */
  private async pushChanged(all = false): Promise<void> {
    this.known = undefined;
    const before = new Map([...this.effective].map(([h, c]) => [h, c.eff.rev]));
    this.effective.clear();
    const due: Array<[string, EffectiveTemplate]> = [];
    for (const h of this.knownHosts()) {
      const eff = this.effectiveFor(h.name, h.groups);
      const had = before.get(h.name);
      const agent = this.agentRev.get(h.name);
      // changed since we last computed it; or (after our start, or asked to) the agent's rev, as its presence told us, differs
      const changed = had !== undefined && had !== eff.rev;
      const stale = agent !== undefined && this.differs(h.name, eff, agent);
      if (changed || (stale && (all || had === undefined))) due.push([h.name, eff]);
    }
    // confirms in flight together, PUSH_WINDOW at a time: a group-wide change to thousands of hosts is not thousands of round trips
    for (let i = 0; i < due.length; i += PUSH_WINDOW) await Promise.all(due.slice(i, i + PUSH_WINDOW).map(([h, eff]) => this.push(h, eff)));
  }

  private differs(_host: string, eff: EffectiveTemplate, agent: string | null): boolean {
    if (agent === eff.rev) return false;
    return !(agent === null && !Object.keys(eff.items).length);
  }

  private async push(host: string, eff: EffectiveTemplate): Promise<void> {
    if (!this.publisher) return;
    const now = Date.now();
    this.pushed.set(host, { rev: eff.rev, at: now });
    if (!this.baseline.has(host) || !this.hosts.get(host)?.lastRecv) this.baseline.set(host, now);
    const p: ConfigPayload = { v: 1, kind: "config", nonce: randomUUID(), target: { host }, issuedAt: now, exp: now + CONFIG_TTL_MS, user: "collector", template: eff };
    try {
      await this.publisher.publishCommand(hostKey(host), Buffer.from(JSON.stringify(signPayload(this.key, p))), CONFIG_TTL_MS);
    } catch (e) {
      this.pushed.delete(host);
      this.log(`template push to ${host} failed (${(e as Error).message}); retried on its next heartbeat`);
    }
  }

  /** A presence message (already checked to come from the host's agent). */
  onPresence(host: string, state: string, rev: string | null | undefined): void {
    if (rev !== undefined) this.agentRev.set(host, rev);
    const h = this.hosts.get(host);
    if (state === "offline") {
      if (h && h.state !== "stopped") this.setHostState(host, "stopped", null);
      return;
    }
    if (state === "online") this.baseline.set(host, Date.now());
    if (h?.state === "stopped") {
      this.baseline.set(host, Date.now());
      this.setHostState(host, "up", null);
    }
    if (state === "online") this.known = undefined; // maybe a new host, or new groups
    const eff = this.effectiveFor(host); // recomputed only if its groups changed
    if (rev === undefined || !this.differs(host, eff, rev)) return;
    // a heartbeat while our push is on its way is no reason to push again; a (re)connect always is
    const last = this.pushed.get(host);
    if (state !== "online" && last && last.rev === eff.rev && Date.now() - last.at < REPUSH_MS) return;
    void this.push(host, eff);
  }

  // ---------------- ingest ----------------

  /**
   * Store a set of batches (already attributed: batch.host is the sender's) in ONE transaction:
   * samples, host state, rule states, events and their outbox rows. Throws if the store fails
   * (the caller then nacks; our mirrors are reloaded). Returns the events it created.
   */
  ingest(batches: MetricsBatch[], now = Date.now()): AlertEvent[] {
    const events: AlertEvent[] = [];
    try {
      this.store.tx(() => {
        for (const b of batches) this.ingestOne(b, now, events);
      });
    } catch (e) {
      this.reload(); // the mirrors (latest values, errors, states, hosts) went ahead of the store: back to it
      throw e;
    }
    if (events.length) this.afterEvents(events);
    return events;
  }

  private ingestOne(b: MetricsBatch, now: number, events: AlertEvent[]): void {
    const host = b.host;
    const h = this.hosts.get(host) ?? { host, lastSeq: 0, lastT: null, lastRecv: null, state: "up", rev: null };
    if (!(b.seq > h.lastSeq)) return void this.stats.duplicates++; // a redelivered or replayed batch
    this.stats.batches++;
    const lag = now - b.t;
    this.stats.lagBuckets[lag <= 1 ? 0 : Math.min(23, Math.ceil(Math.log2(lag)))]!++;
    // the cached effective template (dropped whenever templates, links or the host's groups change)
    const eff = this.effective.get(host)?.eff ?? this.effectiveFor(host);
    const s = b.s;
    const latest = this.latestOf(host);
    let n = 0;
    for (const k in s) {
      const v = s[k];
      if (!(k in eff.items) || typeof v !== "number" || !Number.isFinite(v)) continue;
      const sid = this.store.seriesId(host, k);
      this.sids[n] = sid;
      this.vals[n++] = v;
      const l = latest.get(k);
      if (l) (l.t = b.t), (l.v = v);
      else latest.set(k, { t: b.t, v });
      if (this.errored.has(sid)) this.store.setItemError(sid, b.t, null), this.errored.delete(sid);
    }
    if (n) this.store.addBatch(host, b.t, b.seq, this.sids, this.vals, n);
    this.stats.samples += n;
    if (b.err && typeof b.err === "object") {
      for (const [k, e] of Object.entries(b.err)) {
        if (!(k in eff.items) || typeof e !== "string") continue;
        const sid = this.store.seriesId(host, k);
        this.store.setItemError(sid, b.t, e);
        this.errored.add(sid);
      }
    }
    const wasNodata = h.state === "nodata";
    h.lastSeq = b.seq;
    h.lastT = b.t;
    h.lastRecv = now;
    h.rev = typeof b.rev === "string" ? b.rev.slice(0, 64) : null;
    // a stopped host's last batches may arrive after its `offline`: only its presence says it is back
    if (h.state !== "stopped") h.state = "up";
    this.store.saveHost(h);
    this.hosts.set(host, h);
    if (wasNodata) {
      const r = nodataRule(eff);
      events.push(
        this.event(
          {
            alert: alertId(r.name, host),
            state: "resolved",
            rule: r.name,
            host,
            item: null,
            value: null,
            threshold: null,
            severity: r.severity,
            seq: b.seq,
            t: b.t,
            since: b.t,
            at: now,
            note: "samples arrive again",
          },
          eff,
        ),
      );
    }
    for (const r of eff.rules) {
      if (isNodata(r)) continue;
      const v = s[r.item];
      if (typeof v !== "number" || !Number.isFinite(v)) continue;
      const id = alertId(r.name, host);
      const st = this.states.get(id) ?? newState();
      const before = JSON.stringify(st);
      const tr = evaluate(r, st, b.t, v);
      this.states.set(id, st);
      if (JSON.stringify(st) !== before) this.store.saveState(id, host, r.name, st);
      if (!tr) continue;
      const threshold = tr.state === "resolved" ? condText(r.recover ?? r.when) : condText(r.when);
      events.push(
        this.event(
          {
            alert: id,
            state: tr.state,
            rule: r.name,
            host,
            item: r.item,
            value: v,
            threshold,
            severity: r.severity,
            seq: b.seq,
            t: b.t,
            since: tr.state === "resolved" ? b.t : st.since,
            at: now,
            note: tr.note ?? null,
          },
          eff,
        ),
      );
    }
  }

  /** Build and store one event with its outbox rows: always fleet.alerts; webhooks unless silenced, inhibited or an ack. */
  private event(e: Omit<AlertEvent, "id" | "silenced" | "inhibited">, eff: EffectiveTemplate | undefined, opts: { webhooks?: boolean } = {}): AlertEvent {
    const silenced = this.silencedNow(e.host, e.rule, e.at);
    const nodataRuleName = eff ? nodataRule(eff).name : "host-silent";
    const inhibited = e.rule !== nodataRuleName && this.hosts.get(e.host)?.state === "nodata";
    const sinks = ["amqp"];
    if ((opts.webhooks ?? true) && !silenced && !inhibited && e.state !== "acked") {
      const groups = this.groupsOf(e.host);
      for (const w of this.store.webhooks()) if ((!w.severity || w.severity === e.severity) && (!w.group || groups.includes(w.group))) sinks.push(`webhook:${w.id}`);
    }
    return this.store.addEvent({ ...e, silenced, inhibited }, sinks);
  }

  private afterEvents(events: AlertEvent[]): void {
    for (const e of events) this.emit("alert", e);
    void this.drainAmqp();
    void this.drainWebhooks();
  }

  private setHostState(host: string, state: "up" | "nodata" | "stopped", seq: number | null): void {
    const now = Date.now();
    const eff = this.effectiveFor(host);
    const r = nodataRule(eff);
    const h = this.hosts.get(host) ?? { host, lastSeq: 0, lastT: null, lastRecv: null, state: "up", rev: null };
    const prev = h.state;
    const events: AlertEvent[] = [];
    this.store.tx(() => {
      h.state = state;
      this.store.saveHost(h);
      const base = { alert: alertId(r.name, host), rule: r.name, host, item: null, value: null, threshold: null, severity: r.severity, seq, t: now, at: now };
      if (state === "nodata")
        events.push(
          this.event(
            {
              ...base,
              state: "nodata",
              since: h.lastRecv ?? now,
              note: `no sample for ${Math.round((now - (h.lastRecv ?? this.baseline.get(host) ?? now)) / 1000)}s (limit ${Math.round(r.nodataMs / 1000)}s)`,
            },
            eff,
          ),
        );
      else if (state === "stopped") events.push(this.event({ ...base, state: "stopped", since: now, note: "the agent stopped cleanly" }, eff, { webhooks: prev === "nodata" }));
    });
    this.hosts.set(host, h);
    if (events.length) this.afterEvents(events);
  }

  // ---------------- timers ----------------

  /** Every second: nodata, ended silences, compaction. */
  tick(now = Date.now()): void {
    // No template linked anywhere: no host has an item, so none can go nodata. Skipping the walk
    // saves reading and scanning every known host each second (8 % of the collector's CPU with
    // 10,000 hosts and no monitoring set up).
    if (this.templates.size && this.links.length)
      for (const h of this.knownHosts()) {
        const eff = this.effectiveFor(h.name, h.groups);
        if (!Object.keys(eff.items).length) continue;
        const st = this.hosts.get(h.name);
        if (st?.state === "nodata" || st?.state === "stopped") continue;
        const r = nodataRule(eff);
        const grace = this.o.graceMs ?? Math.max(r.nodataMs, MIN_GRACE_MS);
        if (now < this.connectedAt + grace) continue;
        const from = Math.max(st?.lastRecv ?? 0, this.baseline.get(h.name) ?? 0, this.connectedAt);
        if (now - from > r.nodataMs) this.setHostState(h.name, "nodata", null);
      }
    this.endSilences(now);
    this.repeats(now);
    if (now - this.lastCompact > 60_000) {
      this.lastCompact = now;
      try {
        // the head holds [compactAfter, compactAfter + CHUNK_SPAN): chunks of a useful size, not a minute each
        const after = this.o.compactAfterMs ?? 10 * 60_000;
        const oldest = this.store.oldestHead();
        if (oldest !== null && oldest < now - after - CHUNK_SPAN_MS) this.store.compact(now - after, this.o.retention ?? DEFAULT_RETENTION, now);
      } catch (e) {
        this.log(`metrics compaction failed: ${(e as Error).message}`);
      }
    }
    void this.drainAmqp();
    void this.drainWebhooks();
  }

  // ---------------- silences, acks ----------------

  private silencedNow(host: string, rule: string, at: number): boolean {
    const groups = this.groupsOf(host);
    return this.store.silences().some((s) => s.starts <= at && at < s.ends && matches(s, host, groups, rule));
  }

  addSilence(s: { host?: string | undefined; group?: string | undefined; rule?: string | undefined; forMs: number; comment?: string | undefined }, user: string): SilenceRow {
    if (!s.host && !s.group) throw new MonitorError("a silence needs --host or --group");
    for (const [k, v] of [
      ["host", s.host],
      ["group", s.group],
      ["rule", s.rule],
    ] as const)
      if (v !== undefined && !NAME_RE.test(v)) throw new MonitorError(`invalid ${k} ${JSON.stringify(v)}`);
    if (!(s.forMs > 0) || s.forMs > 366 * 86_400_000) throw new MonitorError("--for is a duration up to a year");
    const now = Date.now();
    const row = { host: s.host ?? null, group: s.group ?? null, rule: s.rule ?? null, starts: now, ends: now + s.forMs, comment: String(s.comment ?? "").slice(0, 500), createdBy: user };
    const id = this.store.tx(() => {
      const id = this.store.addSilence(row);
      this.fleet.audit(user, "silence.add", null, { id, ...row });
      return id;
    });
    return { ...row, id, endedDone: false };
  }

  removeSilence(id: number, user: string): void {
    if (!this.store.endSilence(id, Date.now())) throw new MonitorError(`no silence ${id}`, 404);
    this.fleet.audit(user, "silence.rm", null, { id });
    this.endSilences(Date.now());
  }

  /** A silence that ended: alerts it covered that still fire are notified once, now. */
  private endSilences(now: number): void {
    for (const s of this.store.silences()) {
      if (s.endedDone || s.ends > now) continue;
      const events: AlertEvent[] = [];
      this.store.tx(() => {
        for (const [id, st] of this.states) {
          if (!st.firing && !st.flapping) continue;
          const [rule, host] = id.split("|") as [string, string];
          if (!matches(s, host, this.groupsOf(host), rule)) continue;
          const eff = this.effectiveFor(host);
          const r = eff.rules.find((x) => x.name === rule) as MetricRule | undefined;
          if (!r || this.silencedNow(host, rule, now)) continue;
          events.push(
            this.event(
              {
                alert: id,
                state: st.flapping ? "flapping" : "firing",
                rule,
                host,
                item: r.item,
                value: null,
                threshold: condText(r.when),
                severity: r.severity,
                seq: null,
                t: now,
                since: st.since,
                at: now,
                note: `silence ${s.id} ended; still firing`,
              },
              eff,
            ),
          );
        }
        this.store.markSilenceEnded(s.id);
      });
      if (events.length) this.afterEvents(events);
    }
  }

  /** Acknowledge the alert an event belongs to: recorded, published, never sent to webhooks. */
  ack(eventId: number, comment: string, user: string): AlertEvent {
    const e = this.store.event(eventId);
    if (!e) throw new MonitorError(`no alert event ${eventId}`, 404);
    const st = this.states.get(e.alert);
    const hostState = this.hosts.get(e.host)?.state;
    const open = st ? st.firing || st.flapping : e.state === "nodata" && hostState === "nodata";
    if (!open) throw new MonitorError(`alert ${e.alert} is not open`, 409);
    const now = Date.now();
    let ev: AlertEvent | undefined;
    this.store.tx(() => {
      if (st) {
        st.acked = true;
        this.store.saveState(e.alert, e.host, e.rule, st);
      }
      ev = this.event({ ...e, state: "acked", at: now, t: now, seq: null, note: `${user}: ${comment}`.slice(0, 500) }, this.effectiveFor(e.host), { webhooks: false });
      this.fleet.audit(user, "alert.ack", null, { event: eventId, alert: e.alert, comment });
    });
    this.afterEvents([ev!]);
    return ev!;
  }

  /** when each (alert, webhook) was last sent a repeat (cache of the webhook_repeats table); absent there too: count from the firing event */
  private repeated = new Map<string, number>();
  /** the latest firing event per open alert (cache of store.lastFiring) */
  private firingEvent = new Map<string, AlertEvent>();

  /**
   * Repeat notifications, as Alertmanager's repeat_interval: an open alert nobody acknowledged is
   * sent again to each webhook whose --repeat has passed since the last time (not while silenced
   * or inhibited). An ack stops them; so does the alert resolving.
   */
  private repeats(now: number): void {
    const hooks = this.store.webhooks().filter((w) => w.repeatMs > 0);
    if (!hooks.length) return;
    for (const [id, st] of this.states) {
      if ((!st.firing && !st.flapping) || st.acked) continue;
      let e = this.firingEvent.get(id);
      if (!e || e.since !== st.since) {
        e = this.store.lastFiring(id);
        if (!e) continue;
        this.firingEvent.set(id, e);
      }
      if (this.silencedNow(e.host, e.rule, now) || this.hosts.get(e.host)?.state === "nodata") continue;
      const groups = this.groupsOf(e.host);
      for (const w of hooks) {
        if ((w.severity && w.severity !== e.severity) || (w.group && !groups.includes(w.group))) continue;
        const k = `${id}|${w.id}|${e.id}`;
        let lastAt = this.repeated.get(k);
        if (lastAt === undefined) this.repeated.set(k, (lastAt = this.store.lastRepeat(e.id, w.id) ?? e.at)); // stored: survives a restart
        if (now - lastAt < w.repeatMs) continue;
        this.repeated.set(k, now);
        this.store.repeat(e.id, w.id, now);
      }
    }
  }

  // ---------------- webhooks ----------------

  addWebhook(w: { url: string; severity?: string | undefined; group?: string | undefined; groupWaitMs?: number | undefined; repeatMs?: number | undefined }, user: string): WebhookRow {
    let u: URL;
    try {
      u = new URL(w.url);
    } catch {
      throw new MonitorError(`bad webhook URL ${JSON.stringify(w.url)}`);
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new MonitorError("webhook URLs are http:// or https://");
    const gw = w.groupWaitMs ?? 5000;
    if (!(gw >= 0 && gw <= 3_600_000)) throw new MonitorError("--group-wait is a duration up to 1h");
    const rp = w.repeatMs ?? 4 * 3_600_000;
    if (!(rp === 0 || (rp >= 1000 && rp <= 30 * 86_400_000))) throw new MonitorError("--repeat is 0 (never) or a duration from 1s to 30d");
    const row = { url: u.toString(), severity: w.severity ?? null, group: w.group ?? null, groupWaitMs: gw, repeatMs: rp, createdBy: user };
    const id = this.store.addWebhook(row);
    this.fleet.audit(user, "webhook.add", null, { id, url: u.origin + u.pathname, severity: row.severity, group: row.group });
    return { ...row, id, createdAt: Date.now() };
  }

  removeWebhook(id: number, user: string): void {
    if (!this.store.removeWebhook(id)) throw new MonitorError(`no webhook ${id}`, 404);
    this.fleet.audit(user, "webhook.rm", null, { id });
  }

  /** fleet.alerts: publish due outbox rows (confirmed), oldest first. */
  async drainAmqp(): Promise<void> {
    if (this.amqpBusy || !this.publisher) return;
    this.amqpBusy = true;
    try {
      for (const row of this.store.dueOutbox("amqp", Date.now())) {
        const e = this.store.event(row.eventId);
        if (!e) {
          this.store.outboxDone(row.eventId, row.sink);
          continue;
        }
        try {
          await this.publisher.publishAlert(alertKey(e.state, e.severity), Buffer.from(JSON.stringify(e)), String(e.id));
          this.store.outboxDone(row.eventId, row.sink);
        } catch (err) {
          this.store.outboxRetry(row.eventId, row.sink, row.attempts + 1, Date.now() + backoff(row.attempts + 1), (err as Error).message);
          break;
        }
      }
    } finally {
      this.amqpBusy = false;
    }
  }

  /**
   * Webhooks: per webhook and rule, the due events go in one Alertmanager-format POST once the
   * oldest has waited group_wait; a failure retries the whole group with backoff (1 s … 5 min).
   */
  async drainWebhooks(now = Date.now()): Promise<void> {
    const hooks = new Map(this.store.webhooks().map((w) => [`webhook:${w.id}`, w]));
    if (!hooks.size) return;
    const groups = new Map<string, { hook: WebhookRow; rows: Array<{ eventId: number; sink: string; attempts: number }>; events: AlertEvent[] }>();
    for (const row of this.store.dueOutbox("webhook:", now)) {
      const hook = hooks.get(row.sink);
      const e = this.store.event(row.eventId);
      if (!hook || !e) {
        this.store.outboxDone(row.eventId, row.sink);
        continue;
      }
      const k = `${row.sink}|${e.rule}`;
      const g = groups.get(k) ?? { hook, rows: [], events: [] };
      g.rows.push(row);
      g.events.push(e);
      groups.set(k, g);
    }
    for (const [k, g] of groups) {
      if (this.webhookBusy.has(k)) continue;
      const first = g.rows.every((r) => r.attempts === 0);
      if (first && now < Math.min(...g.events.map((e) => e.at)) + g.hook.groupWaitMs) continue;
      this.webhookBusy.add(k);
      void this.post(g.hook, g.events).then((err) => {
        this.webhookBusy.delete(k);
        this.store.tx(() => {
          for (const r of g.rows) {
            if (!err) this.store.outboxDone(r.eventId, r.sink);
            else this.store.outboxRetry(r.eventId, r.sink, r.attempts + 1, Date.now() + backoff(r.attempts + 1), err);
          }
        });
        if (err) this.log(`webhook ${g.hook.id}: ${err}; retrying with backoff`);
      });
    }
  }

  private async post(hook: WebhookRow, events: AlertEvent[]): Promise<string | undefined> {
    try {
      const r = await fetch(hook.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(alertmanagerPayload(events, hook)),
        signal: AbortSignal.timeout(10_000),
      });
      await r.arrayBuffer().catch(() => undefined);
      return r.ok ? undefined : `HTTP ${r.status}`;
    } catch (e) {
      return (e as Error).message;
    }
  }

  // ---------------- queries ----------------

  metricsLatest(host: string): {
    host: string;
    state: string;
    rev: string | null;
    effectiveRev: string;
    lastSeq: number | null;
    items: Array<{ item: string; t: number | null; v: number | null; seq: number | null; error: string | null }>;
  } {
    const eff = this.effectiveFor(host);
    const h = this.hosts.get(host);
    const rows = new Map(this.store.latest(host).map((r) => [r.item, r]));
    const items = Object.keys(eff.items).map((k) => {
      const r = rows.get(k);
      return { item: k, t: r?.t ?? null, v: r?.v ?? null, seq: r?.seq ?? null, error: r?.error ?? null };
    });
    return { host, state: h?.state ?? "unknown", rev: h?.rev ?? null, effectiveRev: eff.rev, lastSeq: h?.lastSeq ?? null, items };
  }

  metricsSeries(
    host: string,
    item: string,
    sinceMs: number,
    stepMs: number | undefined,
  ): { host: string; item: string; step: number | null; samples?: Array<{ t: number; v: number; seq: number | null }>; points?: ReturnType<MetricsStore["series"]> } {
    if (!ITEM_RE.test(item)) throw new MonitorError(`invalid item ${JSON.stringify(item)}`);
    const sid = this.store.findSeries(host, item);
    const to = Date.now() + 60_000;
    const from = Date.now() - sinceMs;
    if (sid === undefined) return stepMs ? { host, item, step: stepMs, points: [] } : { host, item, step: null, samples: [] };
    if (stepMs) {
      if (stepMs < 1000) throw new MonitorError("--step is at least 1s");
      if ((to - from) / stepMs > 10_000) throw new MonitorError("at most 10,000 points: use a larger --step or a shorter --since");
      return { host, item, step: stepMs, points: this.store.series(sid, from, to, stepMs) };
    }
    const samples = this.store.raw(sid, from, to);
    if (samples.length > 100_000) throw new MonitorError("more than 100,000 samples: give --step");
    return { host, item, step: null, samples };
  }

  alerts(o: { afterId?: number | undefined; host?: string | undefined; limit?: number | undefined }): {
    events: AlertEvent[];
    open: Array<{ alert: string; rule: string; host: string; state: AlertState; since: number; acked: boolean }>;
  } {
    const open: Array<{ alert: string; rule: string; host: string; state: AlertState; since: number; acked: boolean }> = [];
    for (const [id, st] of this.states) {
      if (!st.firing && !st.flapping) continue;
      const [rule, host] = id.split("|") as [string, string];
      if (o.host && o.host !== host) continue;
      open.push({ alert: id, rule, host, state: st.flapping ? "flapping" : "firing", since: st.since, acked: st.acked });
    }
    for (const h of this.hosts.values()) {
      if (h.state !== "nodata" || (o.host && o.host !== h.host)) continue;
      const r = nodataRule(this.effectiveFor(h.host));
      open.push({ alert: alertId(r.name, h.host), rule: r.name, host: h.host, state: "nodata", since: h.lastRecv ?? 0, acked: false });
    }
    return { events: this.store.events({ afterId: o.afterId, host: o.host, limit: Math.min(Math.max(1, o.limit ?? 50), 1000) }), open };
  }

  /** Prometheus text exposition of the latest values (one family per item key, `fleet_` + key with . and - as _). */
  prometheus(filter: { host?: string | undefined; group?: string | undefined; item?: string | undefined } = {}): string {
    const wanted = (host: string): boolean => (!filter.host || filter.host === host) && (!filter.group || this.groupsOf(host).includes(filter.group));
    const lines: string[] = [];
    const esc = (s: string): string => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
    lines.push("# HELP fleet_host_up 1 while the host reports samples; 0 while nodata or stopped.", "# TYPE fleet_host_up gauge");
    for (const h of this.knownHosts()) {
      if (!wanted(h.name) || !Object.keys(this.effectiveFor(h.name, h.groups).items).length) continue;
      lines.push(`fleet_host_up{host="${esc(h.name)}"} ${this.hosts.get(h.name)?.state === "up" ? 1 : 0}`);
    }
    const fams = new Map<string, string[]>();
    for (const [host, items] of this.latestMem) {
      if (!wanted(host)) continue;
      for (const [item, { t, v }] of items) {
        if (filter.item && filter.item !== item) continue;
        const name = `fleet_${item.replace(/[^A-Za-z0-9_]/g, "_")}`;
        const l = fams.get(name) ?? [];
        l.push(`${name}{host="${esc(host)}",item="${esc(item)}"} ${v} ${t}`);
        fams.set(name, l);
      }
    }
    for (const [name, l] of [...fams].sort()) lines.push(`# TYPE ${name} gauge`, ...l);
    lines.push("# HELP fleet_alert_firing 1 for each open alert (firing or flapping).", "# TYPE fleet_alert_firing gauge");
    for (const a of this.alerts({ limit: 1 }).open) if (wanted(a.host)) lines.push(`fleet_alert_firing{rule="${esc(a.rule)}",host="${esc(a.host)}",state="${a.state}"} 1`);
    lines.push("# HELP fleet_item_unsupported 1 for each item whose last collection failed.", "# TYPE fleet_item_unsupported gauge");
    for (const e of this.store.itemErrors()) if (wanted(e.host)) lines.push(`fleet_item_unsupported{host="${esc(e.host)}",item="${esc(e.item)}"} 1`);
    return lines.join("\n") + "\n";
  }
}

/** The host's nodata rule (every effective template with items has one). */
function nodataRule(eff: EffectiveTemplate): NodataRule {
  return (eff.rules.find(isNodata) as NodataRule | undefined) ?? { name: "host-silent", nodataMs: 30_000, severity: "critical" };
}

function matches(s: SilenceRow, host: string, groups: string[], rule: string): boolean {
  return (!s.host || s.host === host) && (!s.group || groups.includes(s.group)) && (!s.rule || s.rule === rule);
}

const backoff = (attempt: number): number => Math.min(300_000, 1000 * 2 ** Math.min(attempt - 1, 9));

/** `assign:` in a template file (config as code) is not part of the template itself. */
function stripAssign(doc: unknown): unknown {
  if (!doc || typeof doc !== "object" || Array.isArray(doc) || !("assign" in doc)) return doc;
  const { assign: _a, ...rest } = doc as Record<string, unknown>;
  return rest;
}

/** assign: {groups: [web], hosts: [db1], priority: 10} */
function parseAssign(doc: unknown, name: string): Array<Omit<Link, "template">> {
  const a = (doc as { assign?: unknown } | null)?.assign;
  if (a === undefined) return [];
  if (typeof a !== "object" || a === null || Array.isArray(a)) throw new MonitorError(`template ${name}: assign is a mapping {groups, hosts, priority}`);
  const o = a as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!["groups", "hosts", "priority"].includes(k)) throw new MonitorError(`template ${name}: assign has groups, hosts and priority, not ${k}`);
  const priority = o.priority === undefined ? 0 : Number(o.priority);
  if (!Number.isInteger(priority)) throw new MonitorError(`template ${name}: assign.priority is an integer`);
  const list = (v: unknown, what: string): string[] => {
    if (v === undefined) return [];
    const l = Array.isArray(v) ? v : [v];
    for (const x of l) if (typeof x !== "string" || !NAME_RE.test(x)) throw new MonitorError(`template ${name}: assign.${what}: invalid name ${JSON.stringify(x)}`);
    return l as string[];
  };
  return [...list(o.groups, "groups").map((g) => ({ kind: "group" as const, target: g, priority })), ...list(o.hosts, "hosts").map((h) => ({ kind: "host" as const, target: h, priority }))];
}

export { MAX_BATCH_ITEMS, RES_1M };
