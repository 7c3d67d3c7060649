/**
 * Shared test fixtures for the AMQP codec tests: a seeded PRNG, random method
 * arguments and field tables, and conversion of our field values into
 * amqplib's `{'!': type, value}` notation so amqplib's codec (written by
 * nobody here) can serve as the golden reference.
 */
import { createRequire } from "node:module";
import { Decimal, LongString, TypedValue, type FieldTable, type FieldValue } from "../../../src/amqp/field-table.js";

const require = createRequire(import.meta.url);

/** amqplib's generated codec (lib/defs.js) and its field-table codec (lib/codec.js). */
export interface AmqplibDefs {
  encodeMethod(id: number, channel: number, fields: object): Buffer;
  decode(id: number, buf: Buffer): Record<string, unknown>;
  encodeProperties(id: number, channel: number, size: number, fields: object): Buffer;
  info(id: number): { name: string; args: { name: string; type: string }[] } | undefined;
}
export const amqplib = require("amqplib/lib/defs") as AmqplibDefs;
export const amqplibCodec = require("amqplib/lib/codec") as {
  encodeTable(buf: Buffer, val: object, off: number): number;
  decodeFields(slice: Buffer): Record<string, unknown>;
};

/** mulberry32: deterministic, so a failure reproduces. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rand {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  bool(): boolean {
    return this.next() < 0.5;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)]!;
  }
  /** A string of mixed ASCII / 2-, 3-, 4-byte UTF-8 characters, at most maxBytes bytes. */
  str(maxBytes: number): string {
    const target = this.int(0, Math.min(maxBytes, 40));
    let s = "";
    while (true) {
      const c = this.pick(["a", "Z", "0", ".", "#", "é", "ß", "€", "中", "😀", " "]);
      if (Buffer.byteLength(s + c) > target) break;
      s += c;
    }
    return s;
  }
  bytes(max: number): Buffer {
    const b = Buffer.alloc(this.int(0, max));
    for (let i = 0; i < b.length; i++) b[i] = this.int(0, 255);
    return b;
  }
  u64(): number {
    return this.pick([0, 1, 0xffffffff, 0x100000000, Number.MAX_SAFE_INTEGER, this.int(0, 2 ** 31) * 2 ** 21 + this.int(0, 2 ** 21)]);
  }
}

/**
 * A random field value that amqplib can also encode (amqplib cannot encode
 * invalid-UTF-8 'S' or bigints beyond 2^53), in our representation.
 */
export function randomValue(r: Rand, depth: number): FieldValue {
  switch (r.int(0, depth > 2 ? 13 : 16)) {
    case 0:
      return r.str(60);
    case 1:
      return r.bool();
    case 2:
      return r.int(-0x80000000, 0x7fffffff);
    case 3:
      return r.pick([0x80000000, -0x80000001, 2 ** 40, -(2 ** 45), Number.MAX_SAFE_INTEGER]);
    case 4:
      return r.pick([1.5, -0.25, 1e-300, 3.375, 2 ** 60]);
    case 5:
      return r.bytes(20);
    case 6:
      return null;
    case 7:
      return new TypedValue("b", r.int(-128, 127));
    case 8:
      return new TypedValue("B", r.int(0, 255));
    case 9:
      return new TypedValue("s", r.int(-32768, 32767));
    case 10:
      return new TypedValue("u", r.int(0, 65535));
    case 11:
      return new TypedValue(r.pick(["i", "T"]), r.int(0, 0xffffffff));
    case 12:
      return new TypedValue("f", r.pick([0.5, -2, 1024.25]));
    case 13:
      return new Decimal(r.int(0, 255), r.int(0, 0xffffffff));
    case 14:
    case 15: {
      const a: FieldValue[] = [];
      for (let i = r.int(0, 4); i > 0; i--) a.push(randomValue(r, depth + 1));
      return a;
    }
    default:
      return randomTable(r, depth + 1);
  }
}

export function randomTable(r: Rand, depth = 0): FieldTable {
  const t: FieldTable = {};
  for (let i = r.int(0, depth === 0 ? 6 : 3); i > 0; i--) t[`k${i}-${r.str(12)}`] = randomValue(r, depth);
  return t;
}

const AMQPLIB_TYPE: Record<string, string> = { b: "int8", B: "uint8", s: "int16", u: "uint16", I: "int32", i: "uint32", l: "int64", f: "float", d: "double", T: "timestamp" };

/** Our field value -> amqplib's notation that encodes to the same bytes. */
export function toAmqplib(v: FieldValue): unknown {
  if (typeof v === "number") {
    if (Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff) return { "!": "int32", value: v };
    if (Number.isSafeInteger(v)) return { "!": "int64", value: v };
    return { "!": "double", value: v };
  }
  if (typeof v === "bigint") return { "!": "int64", value: Number(v) };
  if (v === null || typeof v !== "object" || Buffer.isBuffer(v)) return v;
  if (Array.isArray(v)) return v.map(toAmqplib);
  if (v instanceof TypedValue) return { "!": AMQPLIB_TYPE[v.type], value: Number(v.value) };
  if (v instanceof Decimal) return { "!": "decimal", value: { places: v.scale, digits: v.value } };
  if (v instanceof LongString) throw new Error("amqplib cannot encode a non-UTF-8 longstr");
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = toAmqplib(v[k]!);
  return out;
}

/** Binary longstr fields: our codec gives Buffers for these. */
export const BINARY_FIELDS = new Set(["connection.start-ok.response", "connection.secure.challenge", "connection.secure-ok.response", "connection.update-secret.new-secret"]);
