/**
 * Helpers over x-arguments (field tables): a stable identity key for binding
 * and equivalence checks, value equality, and typed readers that validate the
 * way RabbitMQ validates queue arguments (PRECONDITION_FAILED on a bad type or
 * value). Bind/declare time only — never on the per-message path.
 */
import { Decimal, TypedValue, type FieldTable, type FieldValue } from "../amqp/field-table.js";

export function stableKey(t: FieldTable | undefined): string {
  if (!t) return "";
  const keys = Object.keys(t);
  if (keys.length === 0) return "";
  keys.sort();
  return keys.map((k) => `${k}=${valueKey(t[k]!)}`).join(",");
}

function valueKey(v: FieldValue): string {
  if (v === null) return "V";
  if (v instanceof TypedValue) return `${v.type}:${String(v.value)}`;
  if (v instanceof Decimal) return `D:${v.scale}:${v.value}`;
  if (Buffer.isBuffer(v)) return `x:${v.toString("hex")}`;
  if (Array.isArray(v)) return `A[${v.map(valueKey).join(";")}]`;
  if (typeof v === "object") return `F{${stableKey(v as FieldTable)}}`;
  return `${typeof v}:${String(v)}`;
}

/** Semantic equality: numbers compare by value whatever their wire type. */
export function fieldEquals(a: FieldValue, b: FieldValue): boolean {
  const na = asNumber(a);
  const nb = asNumber(b);
  if (na !== undefined && nb !== undefined) return na === nb;
  if (typeof a === "string" && typeof b === "string") return a === b;
  if (typeof a === "boolean" && typeof b === "boolean") return a === b;
  return valueKey(a) === valueKey(b);
}

export function asNumber(v: FieldValue | undefined): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (v instanceof TypedValue) return Number(v.value);
  return undefined;
}

/** RabbitMQ's name for the wire type of a value, as used in its error texts. */
export function typeName(v: FieldValue): string {
  if (v === null) return "void";
  if (typeof v === "string") return "longstr";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? (v >= -2147483648 && v <= 2147483647 ? "signedint" : "long") : "double";
  if (typeof v === "bigint") return "long";
  if (v instanceof TypedValue) {
    const m: Record<string, string> = {
      b: "byte",
      B: "unsignedbyte",
      s: "short",
      u: "unsignedshort",
      I: "signedint",
      i: "unsignedint",
      l: "long",
      f: "float",
      d: "double",
      T: "timestamp",
      S: "longstr",
    };
    return m[v.type] ?? v.type;
  }
  if (v instanceof Decimal) return "decimal";
  if (Buffer.isBuffer(v)) return "binary";
  if (Array.isArray(v)) return "array";
  return "table";
}

/** Is the value an integer type (any width)? */
export function isIntegerValue(v: FieldValue): boolean {
  if (typeof v === "number") return Number.isInteger(v);
  if (typeof v === "bigint") return true;
  if (v instanceof TypedValue) return "bBsuIilT".includes(v.type) && v.type !== "T";
  return false;
}

/** Render a value the way RabbitMQ prints it in equivalence errors ('true', 'long', …). */
export function renderValue(v: FieldValue | undefined): string {
  if (v === undefined) return "none";
  if (v instanceof TypedValue) return String(v.value);
  if (typeof v === "string") return v;
  if (Buffer.isBuffer(v)) return v.toString();
  return String(v);
}

// ---- redeclare equivalence (rabbit_misc:assert_args_equivalence) ----------------

/** The value as an integer when it has an integer type (Erlang does not tell int widths apart). */
function integerOf(v: FieldValue): bigint | undefined {
  if (typeof v === "number") return Number.isInteger(v) ? BigInt(v) : undefined;
  if (typeof v === "bigint") return v;
  if (v instanceof TypedValue && "bBsuIilT".includes(v.type)) return BigInt(v.value);
  return undefined;
}

function floatOf(v: FieldValue): number | undefined {
  if (typeof v === "number") return Number.isInteger(v) ? undefined : v;
  if (v instanceof TypedValue && (v.type === "d" || v.type === "f")) return Number(v.value);
  return undefined;
}

/**
 * Are two argument values the same for RabbitMQ? Integers compare by value whatever
 * their wire type (a TTL declared as a short matches one redeclared as a long); an
 * integer never equals a float (10000 is not 1.0e4); other values compare exactly.
 */
export function argValuesEquivalent(a: FieldValue, b: FieldValue): boolean {
  const ia = integerOf(a);
  const ib = integerOf(b);
  if (ia !== undefined || ib !== undefined) return ia === ib;
  const fa = floatOf(a);
  const fb = floatOf(b);
  if (fa !== undefined || fb !== undefined) return fa === fb;
  return valueKey(a) === valueKey(b);
}

/** A float as Erlang's ~p prints it: shortest digits, "100.0", "1.0e4", "0.001". */
export function erlangFloat(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const [mant, expS] = x.toExponential().split("e");
  const exp = Number(expS);
  const neg = mant!.startsWith("-");
  const digits = mant!.replace("-", "").replace(".", "");
  const sci = `${digits[0]}.${digits.length > 1 ? digits.slice(1) : "0"}e${exp}`;
  let fixed: string;
  if (exp >= 0) {
    const int = digits.length > exp + 1 ? digits.slice(0, exp + 1) : digits.padEnd(exp + 1, "0");
    const frac = digits.length > exp + 1 ? digits.slice(exp + 1) : "0";
    fixed = `${int}.${frac}`;
  } else {
    fixed = `0.${"0".repeat(-exp - 1)}${digits}`;
  }
  return (neg ? "-" : "") + (sci.length < fixed.length ? sci : fixed);
}

/** A value as RabbitMQ prints it in equivalence errors (Erlang's ~s for strings, ~p otherwise). */
function erlangValue(v: FieldValue): string {
  const f = floatOf(v);
  if (f !== undefined) return erlangFloat(f);
  return renderValue(v);
}

/**
 * rabbit_misc:assert_args_equivalence: compare the arguments in `keys` only (others are
 * not part of a queue's or exchange's identity) and return RabbitMQ's 406 text for the
 * first that differs, e.g. "inequivalent arg 'x-message-ttl' for queue 'q' in vhost '/':
 * received '2000' but current is '1000'", or "... received none but current is the value
 * '10' of type 'long'" when only one side has it.
 */
export function argsInequivalence(resource: string, current: FieldTable, received: FieldTable, keys: readonly string[]): string | undefined {
  for (const k of keys) {
    const cur = current[k];
    const got = received[k];
    if (cur === undefined && got === undefined) continue;
    if (cur !== undefined && got !== undefined) {
      if (argValuesEquivalent(cur, got)) continue;
      return `inequivalent arg '${k}' for ${resource}: received '${erlangValue(got)}' but current is '${erlangValue(cur)}'`;
    }
    const typed = (v: FieldValue | undefined) => (v === undefined ? "none" : `the value '${erlangValue(v)}' of type '${typeName(v)}'`);
    return `inequivalent arg '${k}' for ${resource}: received ${typed(got)} but current is ${typed(cur)}`;
  }
  return undefined;
}
