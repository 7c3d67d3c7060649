/**
 * JSON for definition commands on their way through etcd. Plain JSON.stringify would turn an
 * AMQP field table's typed values (TypedValue, bigint, Buffer, Decimal, LongString) into
 * plain objects that come back as nested tables ("expected integer, got table"); these are
 * written as small tagged objects instead and revived exactly, so every node applies the
 * same arguments the declaring client sent.
 */
import { Decimal, LongString, TypedValue } from "../amqp/field-table.js";

const TAG = "$warren";

export function encodeCommands(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const raw = this[key]; // before toJSON (Buffer.toJSON would already have run on v)
    if (typeof raw === "bigint") return { [TAG]: "bigint", v: raw.toString() };
    if (raw instanceof TypedValue) return { [TAG]: "typed", t: raw.type, v: raw.value.toString(), big: typeof raw.value === "bigint" };
    if (Buffer.isBuffer(raw)) return { [TAG]: "bytes", v: raw.toString("base64") };
    if (raw instanceof Decimal) return { [TAG]: "decimal", s: raw.scale, v: raw.value };
    if (raw instanceof LongString) return { [TAG]: "longstr", v: raw.bytes.toString("base64") };
    return v;
  });
}

export function decodeCommands<T>(json: string): T {
  return JSON.parse(json, (_key: string, v: unknown) => {
    if (v === null || typeof v !== "object" || !(TAG in v)) return v;
    const o = v as Record<string, unknown>;
    switch (o[TAG]) {
      case "bigint":
        return BigInt(String(o["v"]));
      case "typed":
        return new TypedValue(String(o["t"]), o["big"] === true ? BigInt(String(o["v"])) : Number(o["v"]));
      case "bytes":
        return Buffer.from(String(o["v"]), "base64");
      case "decimal":
        return new Decimal(Number(o["s"]), Number(o["v"]));
      case "longstr":
        return new LongString(Buffer.from(String(o["v"]), "base64"));
      default:
        return v;
    }
  }) as T;
}
