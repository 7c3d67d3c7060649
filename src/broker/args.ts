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
    const m: Record<string, string> = { b: "byte", B: "unsignedbyte", s: "short", u: "unsignedshort", I: "signedint", i: "unsignedint", l: "long", f: "float", d: "double", T: "timestamp", S: "longstr" };
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
