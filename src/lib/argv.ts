/**
 * The one command-line parser of warren's home-grown CLIs (`warren ctl`, Fleet's verbs and shell):
 * declared flags by kind — "bool", "value" (`--flag value` / `--flag=value`, the last one wins),
 * "multi" (values up to the next flag, commas split: `--hosts h1 h2,h3`) — positionals, and a
 * bare `--` ending the flags (the words after it are `rest`).
 *
 * Two dialects, chosen by the caller:
 * - strict (Fleet): only `--name` words are flags, an undeclared one is an error, `-h` means help,
 *   other single-dash words are positionals;
 * - lenient (ctl, like rabbitmqctl): `-x` and `--x` alike are flags, an undeclared one is a boolean
 *   flag (a value after `=` is ignored), `-5` stays a positional, and `aliases` rename flags (`-p` → vhost).
 * `warren server` uses node:util's parseArgs (its options are all declared, no multi values).
 *
 * Errors are UsageError naming the problem (`problem`), so a caller can word it its own way.
 */
export type FlagKind = "bool" | "value" | "multi";
export type FlagSpec = Record<string, FlagKind>;

export interface Parsed {
  flags: Record<string, string | boolean | string[]>;
  positionals: string[];
  /** words after a bare `--` */
  rest: string[] | undefined;
}

export type UsageProblem = { kind: "unknown" | "takes-no-value" | "needs-value" | "needs-values"; flag: string };

export class UsageError extends Error {
  constructor(
    message: string,
    readonly problem?: UsageProblem,
  ) {
    super(message);
  }
}

export interface ParseOptions {
  /** lenient dialect (see above); default strict */
  lenient?: boolean;
  /** flag name → the name it is recorded under */
  aliases?: Record<string, string>;
}

function problem(kind: UsageProblem["kind"], flag: string): UsageError {
  const text = { unknown: `unknown option --${flag}`, "takes-no-value": `--${flag} takes no value`, "needs-value": `--${flag} needs a value`, "needs-values": `--${flag} needs at least one value` }[
    kind
  ];
  return new UsageError(text, { kind, flag });
}

function isFlagWord(a: string, lenient: boolean): boolean {
  if (lenient) return a.startsWith("-") && a.length > 1 && !/^-\d/.test(a);
  return a.startsWith("--");
}

export function parseArgv(argv: readonly string[], spec: FlagSpec, opts: ParseOptions = {}): Parsed {
  const lenient = opts.lenient === true;
  const out: Parsed = { flags: {}, positionals: [], rest: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      out.rest = argv.slice(i + 1);
      break;
    }
    if (!isFlagWord(a, lenient)) {
      if (a === "-h") out.flags["help"] = true;
      else out.positionals.push(a);
      continue;
    }
    const word = a.replace(/^--?/, "");
    const eq = word.indexOf("=");
    const given = eq >= 0 ? word.slice(0, eq) : word;
    const name = opts.aliases?.[given] ?? given;
    const kind = spec[given] ?? (lenient ? "bool" : undefined);
    if (kind === undefined) throw problem("unknown", given);
    if (kind === "bool") {
      if (eq >= 0 && !lenient) throw problem("takes-no-value", given);
      out.flags[name] = true;
    } else if (kind === "value") {
      const v = eq >= 0 ? word.slice(eq + 1) : argv[++i];
      if (v === undefined) throw problem("needs-value", given);
      out.flags[name] = v;
    } else {
      const vals = (out.flags[name] as string[] | undefined) ?? [];
      if (eq >= 0)
        vals.push(
          ...word
            .slice(eq + 1)
            .split(",")
            .filter(Boolean),
        );
      else while (i + 1 < argv.length && !isFlagWord(argv[i + 1]!, lenient)) vals.push(...argv[++i]!.split(",").filter(Boolean));
      if (!vals.length) throw problem("needs-values", given);
      out.flags[name] = vals;
    }
  }
  return out;
}

/** A value flag's value, if given. */
export function str(p: Parsed, name: string): string | undefined {
  const v = p.flags[name];
  return typeof v === "string" ? v : undefined;
}

/** A multi flag's values (a value flag's, comma-split). */
export function list(p: Parsed, name: string): string[] {
  const v = p.flags[name];
  return Array.isArray(v) ? v : typeof v === "string" ? v.split(",").filter(Boolean) : [];
}
