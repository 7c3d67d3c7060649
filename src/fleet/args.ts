/**
 * Fleet's argv: the shared parser (src/lib/argv.ts) in its strict dialect —
 * declared flags only (unknown flags are an error), `--flag value` /
 * `--flag=value`, "multi" flags that take values up to the next flag
 * (`--hosts h1 h2 h3`), `--` ending flags. Also durations
 * ("30s", "5m", "1h", "250ms"; bare numbers are seconds), sizes ("64k", "1M")
 * and a quote-aware line splitter for the interactive shell.
 */
import { UsageError, parseArgv, type FlagSpec, type Parsed } from "../lib/argv.js";

export { UsageError, list, str, type FlagKind, type FlagSpec, type Parsed } from "../lib/argv.js";

/** Fleet's dialect of the shared parser (src/lib/argv.ts): declared `--flags` only. */
export function parseArgs(argv: string[], spec: FlagSpec): Parsed {
  return parseArgv(argv, spec);
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
