/**
 * Monitoring templates: the document format (YAML or JSON), its validation,
 * and the effective template of one host (the seed's "key = hostname, value =
 * template"), merged from the templates linked to its groups and to the host.
 * Pure data: no I/O, no AMQP.
 *
 * Invariants: a validated template has only known fields, bounded sizes and
 * names that are safe as SQLite keys, Prometheus label values and metric-name
 * suffixes; an effective template is built deterministically (sorted keys), so
 * its `rev` (SHA-256 of its JSON) changes exactly when its content does.
 */
import { createHash } from "node:crypto";

export type Op = ">" | ">=" | "<" | "<=" | "==" | "!=";
export interface Cond {
  op: Op;
  value: number;
}

export type BuiltinName = "cpu" | "load" | "memory" | "disk" | "net";

export interface Item {
  /** a built-in collector (no fork), or a shell command whose first stdout line is the value */
  collector?: BuiltinName;
  field?: string;
  mount?: string;
  iface?: string;
  cmd?: string;
  intervalMs: number;
  timeoutMs?: number;
}

export interface MetricRule {
  name: string;
  item: string;
  when: Cond;
  /** n: fire on the n-th breach within `withinMs` */
  count: number;
  withinMs: number;
  /** hysteresis: resolve after `recoverCount` consecutive samples meeting `recover` (default: not `when`) */
  recover?: Cond;
  recoverCount: number;
  severity: string;
  /** F firing transitions within H make the alert `flapping` */
  flapCount: number;
  flapWithinMs: number;
}

export interface NodataRule {
  name: string;
  nodataMs: number;
  severity: string;
}
export type Rule = MetricRule | NodataRule;
export const isNodata = (r: Rule): r is NodataRule => (r as NodataRule).nodataMs !== undefined;

export interface Template {
  name: string;
  intervalMs: number;
  items: Record<string, Item>;
  rules: Rule[];
}

/** What an agent gets: one host's merged template, signed by the collector. */
export interface EffectiveTemplate {
  host: string;
  rev: string;
  templates: string[];
  items: Record<string, Item>;
  rules: Rule[];
}

export class TemplateError extends Error {}

export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** Item keys become Prometheus names (`.`, `-` → `_`) and SQLite keys. */
export const ITEM_RE = /^[A-Za-z][A-Za-z0-9_.-]{0,99}$/;
const BUILTINS: Record<BuiltinName, string[]> = {
  cpu: ["util", "user", "system", "iowait", "idle", "steal"],
  load: ["1", "5", "15"],
  memory: ["used_pct", "available", "total", "used", "swap_used_pct"],
  disk: ["used_pct", "free", "total", "used", "inodes_used_pct"],
  net: ["rx_bps", "tx_bps", "rx_pps", "tx_pps", "rx_errs", "tx_errs"],
};
export const DEFAULT_FIELD: Record<BuiltinName, string> = { cpu: "util", load: "1", memory: "used_pct", disk: "used_pct", net: "rx_bps" };
export const MAX_ITEMS = 200;
export const MAX_RULES = 200;
export const MAX_CMD = 4096;
export const MAX_TEMPLATE_BYTES = 64 * 1024;
const MIN_INTERVAL_MS = 1000;
const MAX_INTERVAL_MS = 24 * 3_600_000;

/** "10s", "5m", "1h", "250ms", "2d"; a bare number is seconds. */
export function parseDur(v: unknown, what: string): number {
  if (typeof v === "number" && Number.isFinite(v) && v >= 0) return Math.round(v * 1000);
  const m = typeof v === "string" ? /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(v.trim()) : null;
  if (!m) throw new TemplateError(`${what}: bad duration ${JSON.stringify(v)} (try 10s, 5m, 1h)`);
  return Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? "s") as "s"]);
}

export function parseCond(v: unknown, what: string): Cond {
  const m = typeof v === "string" ? /^\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*$/i.exec(v) : null;
  if (!m) throw new TemplateError(`${what}: expected a condition like "> 80" (operators > >= < <= == !=), got ${JSON.stringify(v)}`);
  return { op: m[1] as Op, value: Number(m[2]) };
}

export function test(c: Cond, x: number): boolean {
  switch (c.op) {
    case ">":
      return x > c.value;
    case ">=":
      return x >= c.value;
    case "<":
      return x < c.value;
    case "<=":
      return x <= c.value;
    case "==":
      return x === c.value;
    case "!=":
      return x !== c.value;
  }
}

export const condText = (c: Cond): string => `${c.op} ${c.value}`;

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new TemplateError(`${what} must be a mapping`);
  return v as Record<string, unknown>;
}

function onlyKeys(o: Record<string, unknown>, allowed: string[], what: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new TemplateError(`${what}: unknown field ${JSON.stringify(k)} (allowed: ${allowed.join(", ")})`);
}

function interval(v: unknown, what: string, dflt: number): number {
  if (v === undefined) return dflt;
  const ms = parseDur(v, what);
  if (ms < MIN_INTERVAL_MS || ms > MAX_INTERVAL_MS || ms % 1000 !== 0) throw new TemplateError(`${what}: interval must be whole seconds between 1s and 24h`);
  return ms;
}

function parseItem(key: string, v: unknown, dflt: number): Item {
  const where = `item ${key}`;
  if (!ITEM_RE.test(key)) throw new TemplateError(`${where}: item keys are letters, digits, '_', '.', '-' (max 100, starting with a letter)`);
  const o = obj(v, where);
  onlyKeys(o, ["collector", "field", "mount", "iface", "cmd", "interval", "timeout"], where);
  const it: Item = { intervalMs: interval(o.interval, `${where}: interval`, dflt) };
  if (o.cmd !== undefined) {
    if (o.collector !== undefined) throw new TemplateError(`${where}: give either cmd or collector, not both`);
    if (typeof o.cmd !== "string" || !o.cmd.trim() || o.cmd.length > MAX_CMD) throw new TemplateError(`${where}: cmd must be a non-empty string of at most ${MAX_CMD} characters`);
    it.cmd = o.cmd;
    const t = o.timeout === undefined ? Math.min(it.intervalMs, 10_000) : parseDur(o.timeout, `${where}: timeout`);
    if (t < 100 || t > 60_000) throw new TemplateError(`${where}: timeout must be between 100ms and 60s`);
    it.timeoutMs = t;
    return it;
  }
  const c = o.collector;
  if (typeof c !== "string" || !(c in BUILTINS)) throw new TemplateError(`${where}: needs cmd, or collector one of ${Object.keys(BUILTINS).join(", ")}`);
  const name = c as BuiltinName;
  it.collector = name;
  const field = o.field === undefined ? DEFAULT_FIELD[name] : String(o.field);
  if (!BUILTINS[name].includes(field)) throw new TemplateError(`${where}: collector ${name} has fields ${BUILTINS[name].join(", ")}, not ${JSON.stringify(field)}`);
  it.field = field;
  if (o.mount !== undefined) {
    if (name !== "disk" || typeof o.mount !== "string" || !o.mount.startsWith("/") || o.mount.length > 4096) throw new TemplateError(`${where}: mount is an absolute path, for collector disk`);
    it.mount = o.mount;
  } else if (name === "disk") it.mount = "/";
  if (o.iface !== undefined) {
    if (name !== "net" || typeof o.iface !== "string" || !/^(\*|[A-Za-z0-9_.:@-]{1,64})$/.test(o.iface)) throw new TemplateError(`${where}: iface is an interface name or "*", for collector net`);
    it.iface = o.iface;
  } else if (name === "net") it.iface = "*";
  if (o.timeout !== undefined) throw new TemplateError(`${where}: timeout is for cmd items`);
  return it;
}

function parseRule(v: unknown, i: number, items: Set<string> | null): Rule {
  const o = obj(v, `rule #${i + 1}`);
  const name = o.name;
  if (typeof name !== "string" || !NAME_RE.test(name)) throw new TemplateError(`rule #${i + 1}: needs a name (letters, digits, '.', '_', '-')`);
  const where = `rule ${name}`;
  const severity = o.severity === undefined ? "warning" : String(o.severity);
  if (!/^[a-z][a-z0-9_-]{0,31}$/.test(severity)) throw new TemplateError(`${where}: severity is a lower-case word (e.g. warning, critical)`);
  if (o.nodata !== undefined) {
    onlyKeys(o, ["name", "nodata", "severity"], where);
    const ms = parseDur(o.nodata, `${where}: nodata`);
    if (ms < 1000) throw new TemplateError(`${where}: nodata must be at least 1s`);
    return { name, nodataMs: ms, severity };
  }
  onlyKeys(o, ["name", "item", "when", "count", "within", "recover", "recover_count", "severity", "flap"], where);
  if (typeof o.item !== "string" || !ITEM_RE.test(o.item)) throw new TemplateError(`${where}: needs item (an item key)`);
  if (items && !items.has(o.item)) throw new TemplateError(`${where}: item ${o.item} is not defined in this template`);
  const count = o.count === undefined ? 1 : Number(o.count);
  if (!Number.isInteger(count) || count < 1 || count > 1000) throw new TemplateError(`${where}: count is an integer 1..1000`);
  const withinMs = o.within === undefined ? 0 : parseDur(o.within, `${where}: within`);
  if (count > 1 && withinMs <= 0) throw new TemplateError(`${where}: count > 1 needs within (the window, e.g. 5m)`);
  const recoverCount = o.recover_count === undefined ? 1 : Number(o.recover_count);
  if (!Number.isInteger(recoverCount) || recoverCount < 1 || recoverCount > 1000) throw new TemplateError(`${where}: recover_count is an integer 1..1000`);
  let flapCount = 3;
  let flapWithinMs = 3_600_000;
  if (o.flap !== undefined) {
    const f = obj(o.flap, `${where}: flap`);
    onlyKeys(f, ["count", "within"], `${where}: flap`);
    flapCount = Number(f.count ?? 3);
    if (!Number.isInteger(flapCount) || flapCount < 2 || flapCount > 100) throw new TemplateError(`${where}: flap.count is an integer 2..100`);
    flapWithinMs = parseDur(f.within ?? "1h", `${where}: flap.within`);
  }
  return {
    name,
    item: o.item,
    when: parseCond(o.when, `${where}: when`),
    count,
    withinMs: withinMs || Number.MAX_SAFE_INTEGER,
    ...(o.recover !== undefined ? { recover: parseCond(o.recover, `${where}: recover`) } : {}),
    recoverCount,
    severity,
    flapCount,
    flapWithinMs,
  };
}

/** Validate a parsed YAML/JSON document into a Template; every problem is a TemplateError saying where. */
export function parseTemplate(doc: unknown, nameHint?: string): Template {
  const o = obj(doc, "template");
  onlyKeys(o, ["name", "interval", "items", "rules"], "template");
  const name = o.name ?? nameHint;
  if (typeof name !== "string" || !NAME_RE.test(name)) throw new TemplateError(`template needs a name (letters, digits, '.', '_', '-'; max 100), got ${JSON.stringify(name)}`);
  const intervalMs = interval(o.interval, `template ${name}: interval`, 10_000);
  const rawItems = o.items === undefined ? {} : obj(o.items, `template ${name}: items`);
  const keys = Object.keys(rawItems);
  if (keys.length > MAX_ITEMS) throw new TemplateError(`template ${name}: at most ${MAX_ITEMS} items`);
  const items: Record<string, Item> = {};
  for (const k of keys.sort()) items[k] = parseItem(k, rawItems[k], intervalMs);
  const rawRules = o.rules ?? [];
  if (!Array.isArray(rawRules)) throw new TemplateError(`template ${name}: rules must be a list`);
  if (rawRules.length > MAX_RULES) throw new TemplateError(`template ${name}: at most ${MAX_RULES} rules`);
  // A rule may name an item another linked template defines; only when this one has items of its own do we check.
  const known = keys.length ? new Set(keys) : null;
  const rules = rawRules.map((r, i) => parseRule(r, i, known));
  const seen = new Set<string>();
  for (const r of rules) {
    if (seen.has(r.name)) throw new TemplateError(`template ${name}: rule ${r.name} appears twice`);
    seen.add(r.name);
  }
  return { name, intervalMs, items, rules };
}

/** Sorted-key JSON: the same content always gives the same text (and rev). */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

export interface Link {
  template: string;
  kind: "group" | "host";
  target: string;
  priority: number;
}

/** Built in when no template defines a nodata rule: a silent host is always noticed. */
export function defaultNodataMs(items: Record<string, Item>): number {
  const min = Math.min(...Object.values(items).map((i) => i.intervalMs));
  return 2 * min + 1000;
}

/**
 * The host's effective template: group links first in (priority, name) order, then host
 * links likewise; later ones override items by key and rules by name. A host with items
 * and no nodata rule gets `host-silent` (2 × the shortest interval + 1 s, critical).
 */
export function effectiveTemplate(host: string, groups: string[], links: Link[], templates: Map<string, Template>): EffectiveTemplate {
  const order = (kind: Link["kind"], targets: string[]): Link[] =>
    links.filter((l) => l.kind === kind && targets.includes(l.target)).sort((a, b) => a.priority - b.priority || a.template.localeCompare(b.template) || a.target.localeCompare(b.target));
  const applied: string[] = [];
  const items: Record<string, Item> = {};
  const rules = new Map<string, Rule>();
  for (const l of [...order("group", groups), ...order("host", [host])]) {
    const t = templates.get(l.template);
    if (!t || applied.includes(t.name)) continue;
    applied.push(t.name);
    for (const [k, it] of Object.entries(t.items)) items[k] = it;
    for (const r of t.rules) rules.set(r.name, r);
  }
  // A rule whose item no linked template defines can never evaluate: drop it rather than mislead.
  for (const [n, r] of rules) if (!isNodata(r) && !(r.item in items)) rules.delete(n);
  if (Object.keys(items).length && ![...rules.values()].some(isNodata)) rules.set("host-silent", { name: "host-silent", nodataMs: defaultNodataMs(items), severity: "critical" });
  const sortedItems: Record<string, Item> = {};
  for (const k of Object.keys(items).sort()) sortedItems[k] = items[k]!;
  const body = { host, templates: applied, items: sortedItems, rules: [...rules.values()].sort((a, b) => a.name.localeCompare(b.name)) };
  const rev = createHash("sha256").update(canonical(body)).digest("hex").slice(0, 16);
  return { ...body, rev };
}

/** The rev an effective template claims, recomputed from its content (agents check it). */
export function revOf(e: Omit<EffectiveTemplate, "rev">): string {
  return createHash("sha256")
    .update(canonical({ host: e.host, templates: e.templates, items: e.items, rules: e.rules }))
    .digest("hex")
    .slice(0, 16);
}
