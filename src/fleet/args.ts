/**
 * A small argv parser for Fleet's verbs: declared flags only (unknown flags are
 * an error), `--flag value` / `--flag=value`, "multi" flags that take values up
 * to the next flag (`--hosts h1 h2 h3`), `--` ending flags. Also durations
 * ("30s", "5m", "1h", "250ms"; bare numbers are seconds), sizes ("64k", "1M")
 * and a quote-aware line splitter for the interactive shell.
 */
export type FlagKind = "bool" | "value" | "multi";
export type FlagSpec = Record<string, FlagKind>;

export interface Parsed {
  flags: Record<string, string | boolean | string[]>;
  positionals: string[];
  /** words after a bare `--` */
  rest: string[] | undefined;
}

export class UsageError extends Error {}

export function parseArgs(argv: string[], spec: FlagSpec): Parsed {
  const out: Parsed = { flags: {}, positionals: [], rest: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      out.rest = argv.slice(i + 1);
      break;
    }
    if (!a.startsWith("--") || a === "-") {
      if (a === "-h") {
        out.flags.help = true;
        continue;
      }
      out.positionals.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = a.slice(2, eq > 0 ? eq : undefined);
    const kind = spec[name];
    if (!kind) throw new UsageError(`unknown option --${name}`);
    if (kind === "bool") {
      if (eq > 0) throw new UsageError(`--${name} takes no value`);
      out.flags[name] = true;
    } else if (kind === "value") {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new UsageError(`--${name} needs a value`);
      out.flags[name] = v;
    } else {
      const vals = (out.flags[name] as string[] | undefined) ?? [];
      if (eq > 0) vals.push(...a.slice(eq + 1).split(",").filter(Boolean));
      else while (i + 1 < argv.length && !argv[i + 1]!.startsWith("--")) vals.push(...argv[++i]!.split(",").filter(Boolean));
      if (!vals.length) throw new UsageError(`--${name} needs at least one value`);
      out.flags[name] = vals;
    }
  }
  return out;
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.flags[name];
  return typeof v === "string" ? v : undefined;
}

export function list(p: Parsed, name: string): string[] {
  const v = p.flags[name];
  return Array.isArray(v) ? v : typeof v === "string" ? v.split(",").filter(Boolean) : [];
}

export function parseDuration(s: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(s.trim());
  if (!m) throw new UsageError(`${what}: bad duration ${JSON.stringify(s)} (try 30s, 5m, 1h)`);
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? "s") as "ms"];
  return Math.round(Number(m[1]) * mult);
}

export function parseSize(s: string, what: string): number {
  const m = /^(\d+)([kKmMgG]?)i?[bB]?$/.exec(s.trim());
  if (!m) throw new UsageError(`${what}: bad size ${JSON.stringify(s)} (try 65536, 64k, 1M)`);
  const mult = { "": 1, k: 1024, m: 1 << 20, g: 1 << 30 }[m[2]!.toLowerCase() as ""];
  return Number(m[1]) * mult;
}

export function parseIntArg(s: string, what: string, min = 0): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${what}: expected an integer ≥ ${min}, got ${JSON.stringify(s)}`);
  return n;
}

/** Split a shell-prompt line into words, honouring '…', "…" and backslashes. */
export function splitLine(line: string): string[] {
  const words: string[] = [];
  let cur = "";
  let has = false;
  let q: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (q) {
      if (c === q) q = null;
      else if (c === "\\" && q === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      q = c;
      has = true;
    } else if (c === "\\" && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) words.push(cur);
      cur = "";
      has = false;
    } else cur += c;
  }
  if (q) throw new UsageError("unterminated quote");
  if (has || cur) words.push(cur);
  return words;
}
