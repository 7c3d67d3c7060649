/**
 * Bounded-time matching of patterns that users supply (policy and operator-policy patterns,
 * permission and topic-permission regexes). V8's RegExp backtracks: `^(a+)+$` against
 * "aaaa…a!" takes time exponential in the length, and since the broker has one thread, a
 * policymaker could freeze every connection with one policy. These patterns go through
 * re2js instead (a pure-JS port of RE2: automata, time linear in the input).
 *
 * RE2 accepts the syntax RabbitMQ users write (classes, anchors, groups, alternation,
 * quantifiers, \d \w \s, (?i)); it refuses backreferences and lookaround, which have no
 * linear-time algorithm. Those are refused when the pattern is set (400/406 with the
 * engine's reason), so nothing is silently matched differently.
 *
 * Matching is an unanchored search, as Erlang's re:run. Each compiled pattern remembers
 * the answers for the last names it saw, because permission checks ask about the same few
 * queue and exchange names over and over.
 */
import { RE2JS } from "re2js";

/** the longest pattern we compile (RabbitMQ users write short ones; this bounds compile time) */
export const MAX_PATTERN_LENGTH = 4096;
const ANSWERS_PER_PATTERN = 1024;

export interface Pattern {
  readonly source: string;
  test(subject: string): boolean;
}

class Re2Pattern implements Pattern {
  private answers = new Map<string, boolean>();
  constructor(
    readonly source: string,
    private readonly re: RE2JS,
  ) {}

  test(subject: string): boolean {
    const known = this.answers.get(subject);
    if (known !== undefined) return known;
    const r = this.re.matcher(subject).find();
    if (this.answers.size >= ANSWERS_PER_PATTERN) this.answers.clear();
    this.answers.set(subject, r);
    return r;
  }
}

/** Compile or throw an Error whose message says why the pattern is refused. */
export function compilePattern(source: string): Pattern {
  if (source.length > MAX_PATTERN_LENGTH) throw new Error(`pattern longer than ${MAX_PATTERN_LENGTH} characters`);
  try {
    return new Re2Pattern(source, RE2JS.compile(source));
  } catch (e) {
    const msg = (e as Error).message.replace(/^error parsing regexp: /, "");
    throw new Error(`unsupported or invalid pattern (${msg}); backreferences and lookaround cannot be matched in bounded time`);
  }
}

/** undefined when the pattern compiles, else the reason it does not. */
export function patternError(source: string): string | undefined {
  try {
    compilePattern(source);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}
