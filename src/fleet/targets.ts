/**
 * Which hosts a task is for: `--hosts` as given, `--group G` (hosts whose agents announced G,
 * or whom the enrolment bound to it, plus hosts assigned to it centrally with `warren groups
 * assign`), `--match GLOB` on host names, each narrowed by `--where KEY=VALUE` clauses on the
 * facts agents report (compound: every clause must hold). Pure functions over store rows; no
 * broker, no SQL here.
 *
 * Invariant: matching is linear in pattern × text (no RegExp built from user input).
 */
import type { HostRow } from "./store.js";

/**
 * `--match` glob (`*` any run, `?` one character) against a host name, in time linear in
 * name × pattern: the classic two-pointer algorithm that backtracks only to the last `*`.
 * (A RegExp built from the glob backtracks polynomially: `*a*a*a*a*b` on a long name.)
 */
export function globMatch(glob: string, name: string): boolean {
  let g = 0;
  let n = 0;
  let star = -1;
  let mark = 0;
  while (n < name.length) {
    if (g < glob.length && (glob[g] === "?" || glob[g] === name[n])) {
      g++;
      n++;
    } else if (g < glob.length && glob[g] === "*") {
      star = g++;
      mark = n;
    } else if (star >= 0) {
      g = star + 1;
      n = ++mark;
    } else return false;
  }
  while (g < glob.length && glob[g] === "*") g++;
  return g === glob.length;
}

/** The facts `--where` knows, and what each one reads from a host row. */
const WHERE_KEYS: Record<string, (h: HostRow) => string[]> = {
  name: (h) => [h.name],
  hostname: (h) => (h.facts ? [h.facts.hostname] : []),
  // `os=debian` and `os=linux` both read naturally: the platform, or the distribution's ID.
  os: (h) => (h.facts ? [h.facts.os, ...(h.facts.distro ? [h.facts.distro] : [])] : []),
  distro: (h) => (h.facts?.distro ? [h.facts.distro] : []),
  version: (h) => (h.facts?.distroVersion ? [h.facts.distroVersion] : []),
  arch: (h) => (h.facts ? [h.facts.arch] : []),
  release: (h) => (h.facts ? [h.facts.release] : []),
  address: (h) => [...(h.facts?.addresses ?? []), ...(h.address ? [h.address] : [])],
  agent: (h) => (h.facts ? [h.facts.agentVersion] : []),
  group: (h) => h.groups,
};

export interface WhereClause {
  key: string;
  negate: boolean;
  glob: string;
}

export class TargetError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** "os=debian", "arch!=arm64", "hostname=web*" → clauses; unknown keys are an error, not a silent miss. */
export function parseWhere(clauses: unknown): WhereClause[] {
  if (clauses === undefined) return [];
  if (!Array.isArray(clauses) || clauses.some((c) => typeof c !== "string")) throw new TargetError("--where takes KEY=VALUE strings");
  if (clauses.length > 20) throw new TargetError("at most 20 --where clauses");
  return (clauses as string[]).map((c) => {
    const m = /^([a-z]+)(!?=)(.*)$/.exec(c);
    if (!m) throw new TargetError(`--where ${JSON.stringify(c)}: expected KEY=VALUE or KEY!=VALUE`);
    const [, key, op, glob] = m as unknown as [string, string, string, string];
    if (!WHERE_KEYS[key]) throw new TargetError(`--where: unknown fact ${JSON.stringify(key)} (known: ${Object.keys(WHERE_KEYS).join(", ")})`);
    if (!glob || glob.length > 200) throw new TargetError(`--where ${key}: the value must be 1 to 200 characters`);
    return { key, negate: op === "!=", glob };
  });
}

export function matchesWhere(h: HostRow, where: WhereClause[]): boolean {
  return where.every((w) => WHERE_KEYS[w.key]!(h).some((v) => globMatch(w.glob, v)) !== w.negate);
}

export function describeWhere(where: WhereClause[]): string {
  return where.map((w) => `${w.key}${w.negate ? "!=" : "="}${w.glob}`).join(" ");
}
