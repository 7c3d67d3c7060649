/**
 * AMQP field tables (RabbitMQ's dialect) and their JS representation.
 *
 * Owns: encoding/decoding of field tables and field arrays, the JS value model
 * for field values, helpers to read x-arguments, and the management-API JSON
 * rendering. Does not own: method or property layouts (gen/methods.ts,
 * properties.ts).
 *
 * Wire format: a table is a u32 byte length followed by entries
 * `shortstr key | octet tag | value`; an array is a u32 byte length followed by
 * `octet tag | value` items. Tags are RabbitMQ's (the 0-9-1 errata table, not the
 * spec's): t bool, b int8, B uint8, s int16, u uint16, I int32, i uint32,
 * l int64, f float32, d float64, D decimal (scale octet + u32), S longstr,
 * x byte array, A array, T timestamp (u64), F table, V void.
 *
 * Fidelity invariant: decode -> encode reproduces the input bytes exactly
 * (headers pass through a broker untouched). The encoder picks a tag for a
 * plain JS value (`defaultTag`); the decoder returns the plain JS value only
 * when that default would give the same tag back, and otherwise wraps it:
 *   string  <-> S (valid UTF-8)          LongString <-> S (bytes not valid UTF-8)
 *   boolean <-> t                        Buffer     <-> x
 *   number  <-> I (integer in int32), l (other safe integer), d (anything else)
 *   bigint  <-> l (outside safe range)   null       <-> V
 *   array   <-> A                        plain obj  <-> F
 *   Decimal <-> D                        TypedValue <-> any numeric tag given explicitly
 * So 'b','B','s','u','i','f','T' always decode to TypedValue, 'l' in int32 range
 * to TypedValue('l'), and 'd' holding an integral value to TypedValue('d').
 * Known losses: a 't' octet other than 0/1 re-encodes as 1 (RabbitMQ does the
 * same); table keys are decoded as UTF-8 (invalid bytes become U+FFFD); a
 * float32 signalling NaN comes back quieted (V8 converts it through float64).
 *
 * Errors: malformed input (overrun, unknown tag, nesting deeper than
 * MAX_DEPTH) throws AmqpError FRAME_ERROR. RabbitMQ answers a bad length inside
 * a method with FRAME_ERROR "cannot decode <<...>>" (gen/methods.ts rewrites our
 * text into that form); for an unknown tag it drops the TCP connection
 * without a close, we send FRAME_ERROR instead.
 */
import { isUtf8 } from "node:buffer";
import { AmqpError, FRAME_ERROR } from "./errors.js";

/** A numeric field value with an explicit wire tag (b B s u I i l f d T). */
export class TypedValue {
  constructor(
    readonly type: string,
    readonly value: number | bigint,
  ) {}
}

/** AMQP decimal: value / 10^scale. scale is an octet, value a u32 (RabbitMQ reads it unsigned). */
export class Decimal {
  constructor(
    readonly scale: number,
    readonly value: number,
  ) {}
}

/** A longstr ('S') whose bytes are not valid UTF-8; kept as bytes so it re-encodes as 'S'. */
export class LongString {
  constructor(readonly bytes: Buffer) {}
  toString(): string {
    return this.bytes.toString("utf8");
  }
}

export type FieldValue = boolean | number | bigint | string | Buffer | null | FieldValue[] | FieldTable | TypedValue | Decimal | LongString;

export interface FieldTable {
  [key: string]: FieldValue;
}

/** Nesting limit for tables/arrays inside tables, so hostile input cannot exhaust the stack. */
export const MAX_DEPTH = 100;

const EMPTY_TABLE_BYTES = Buffer.alloc(4);

const TAG_t = 0x74;
const TAG_b = 0x62;
const TAG_B = 0x42;
const TAG_s = 0x73;
const TAG_u = 0x75;
const TAG_I = 0x49;
const TAG_i = 0x69;
const TAG_l = 0x6c;
const TAG_f = 0x66;
const TAG_d = 0x64;
const TAG_D = 0x44;
const TAG_S = 0x53;
const TAG_x = 0x78;
const TAG_A = 0x41;
const TAG_T = 0x54;
const TAG_F = 0x46;
const TAG_V = 0x56;

// ---------------------------------------------------------------------------
// Encoding: size pass, then write pass into one exactly-sized buffer.

/** The tag the encoder uses for a plain JS number. */
function numberTag(n: number): number {
  if (Number.isInteger(n)) {
    if (n >= -0x80000000 && n <= 0x7fffffff) return TAG_I;
    if (Number.isSafeInteger(n)) return TAG_l;
  }
  return TAG_d;
}

function typedSize(t: string): number {
  switch (t) {
    case "b":
    case "B":
      return 1;
    case "s":
    case "u":
      return 2;
    case "I":
    case "i":
    case "f":
      return 4;
    case "l":
    case "d":
    case "T":
      return 8;
    default:
      throw new TypeError(`TypedValue: unsupported field type tag '${t}'`);
  }
}

function isPlainTable(v: object): boolean {
  return !(v instanceof TypedValue || v instanceof Decimal || v instanceof LongString || Buffer.isBuffer(v) || Array.isArray(v));
}

/** Bytes a value takes after its tag octet. */
function valueSize(v: FieldValue, depth: number): number {
  switch (typeof v) {
    case "string":
      return 4 + Buffer.byteLength(v);
    case "boolean":
      return 1;
    case "number":
      return numberTag(v) === TAG_I ? 4 : 8;
    case "bigint":
      return 8;
    case "object":
      if (v === null) return 0;
      if (depth > MAX_DEPTH) throw new RangeError("field table nested too deeply");
      if (Buffer.isBuffer(v)) return 4 + v.length;
      if (Array.isArray(v)) return arraySize(v, depth + 1);
      if (v instanceof TypedValue) return typedSize(v.type);
      if (v instanceof Decimal) return 5;
      if (v instanceof LongString) return 4 + v.bytes.length;
      return tableSize(v, depth + 1);
    default:
      throw new TypeError(`cannot encode ${typeof v} in a field table`);
  }
}

function arraySize(a: readonly FieldValue[], depth: number): number {
  let n = 4;
  for (let i = 0; i < a.length; i++) n += 1 + valueSize(a[i]!, depth);
  return n;
}

function tableSize(t: FieldTable, depth: number): number {
  let n = 4;
  for (const k in t) {
    const v = t[k];
    if (v === undefined) continue; // like amqplib: absent, not void
    const kl = Buffer.byteLength(k);
    if (kl > 255) throw new RangeError(`field table key too long (${kl} bytes): ${k.slice(0, 40)}`);
    n += 1 + kl + 1 + valueSize(v, depth);
  }
  return n;
}

/** Encoded size of a table including its 4-byte length prefix. `undefined` counts as an empty table. */
export function encodedTableSize(t: FieldTable | undefined): number {
  return t === undefined ? 4 : tableSize(t, 0);
}

function writeInt64(buf: Buffer, off: number, v: number | bigint): void {
  if (typeof v === "bigint") buf.writeBigInt64BE(v, off);
  else buf.writeBigInt64BE(BigInt(v), off);
}

function writeUInt64(buf: Buffer, off: number, v: number | bigint): void {
  if (typeof v === "bigint") buf.writeBigUInt64BE(v, off);
  else {
    // numbers up to 2^53: split without BigInt
    buf.writeUInt32BE(Math.floor(v / 0x100000000), off);
    buf.writeUInt32BE(v >>> 0, off + 4);
  }
}

function writeTyped(buf: Buffer, off: number, tv: TypedValue): number {
  const t = tv.type;
  const v = tv.value;
  buf[off++] = t.charCodeAt(0);
  switch (t) {
    case "b":
      buf.writeInt8(Number(v), off);
      return off + 1;
    case "B":
      buf.writeUInt8(Number(v), off);
      return off + 1;
    case "s":
      buf.writeInt16BE(Number(v), off);
      return off + 2;
    case "u":
      buf.writeUInt16BE(Number(v), off);
      return off + 2;
    case "I":
      buf.writeInt32BE(Number(v), off);
      return off + 4;
    case "i":
      buf.writeUInt32BE(Number(v), off);
      return off + 4;
    case "f":
      buf.writeFloatBE(Number(v), off);
      return off + 4;
    case "d":
      buf.writeDoubleBE(Number(v), off);
      return off + 8;
    case "l":
      writeInt64(buf, off, v);
      return off + 8;
    case "T":
      writeUInt64(buf, off, v);
      return off + 8;
    default:
      throw new TypeError(`TypedValue: unsupported field type tag '${t}'`);
  }
}

/** Writes tag + value at off; returns the offset after it. Sizes were validated by the size pass. */
function writeValue(buf: Buffer, off: number, v: FieldValue): number {
  switch (typeof v) {
    case "string": {
      buf[off] = TAG_S;
      const n = buf.write(v, off + 5, "utf8");
      buf.writeUInt32BE(n, off + 1);
      return off + 5 + n;
    }
    case "boolean":
      buf[off] = TAG_t;
      buf[off + 1] = v ? 1 : 0;
      return off + 2;
    case "number": {
      const tag = numberTag(v);
      buf[off] = tag;
      if (tag === TAG_I) {
        buf.writeInt32BE(v, off + 1);
        return off + 5;
      }
      if (tag === TAG_l) writeInt64(buf, off + 1, v);
      else buf.writeDoubleBE(v, off + 1);
      return off + 9;
    }
    case "bigint":
      buf[off] = TAG_l;
      buf.writeBigInt64BE(v, off + 1);
      return off + 9;
    case "object":
      if (v === null) {
        buf[off] = TAG_V;
        return off + 1;
      }
      if (Buffer.isBuffer(v)) {
        buf[off] = TAG_x;
        buf.writeUInt32BE(v.length, off + 1);
        v.copy(buf, off + 5);
        return off + 5 + v.length;
      }
      if (Array.isArray(v)) {
        buf[off] = TAG_A;
        return writeArray(buf, off + 1, v);
      }
      if (v instanceof TypedValue) return writeTyped(buf, off, v);
      if (v instanceof Decimal) {
        buf[off] = TAG_D;
        buf.writeUInt8(v.scale, off + 1);
        buf.writeUInt32BE(v.value, off + 2);
        return off + 6;
      }
      if (v instanceof LongString) {
        buf[off] = TAG_S;
        buf.writeUInt32BE(v.bytes.length, off + 1);
        v.bytes.copy(buf, off + 5);
        return off + 5 + v.bytes.length;
      }
      buf[off] = TAG_F;
      return writeTable(buf, off + 1, v);
    default:
      throw new TypeError(`cannot encode ${typeof v} in a field table`);
  }
}

function writeArray(buf: Buffer, off: number, a: readonly FieldValue[]): number {
  const start = off;
  off += 4;
  for (let i = 0; i < a.length; i++) off = writeValue(buf, off, a[i]!);
  buf.writeUInt32BE(off - start - 4, start);
  return off;
}

/**
 * Writes a table (with its length prefix) at off and returns the offset after
 * it. The caller must have sized `buf` with encodedTableSize (which also
 * validates the table). `undefined` writes an empty table.
 */
export function writeTable(buf: Buffer, off: number, t: FieldTable | undefined): number {
  const start = off;
  off += 4;
  if (t !== undefined) {
    for (const k in t) {
      const v = t[k];
      if (v === undefined) continue;
      const kl = buf.write(k, off + 1, "utf8");
      buf[off] = kl;
      off = writeValue(buf, off + 1 + kl, v);
    }
  }
  buf.writeUInt32BE(off - start - 4, start);
  return off;
}

/** Encodes a table with its 4-byte length prefix. */
export function encodeTable(t: FieldTable | undefined): Buffer {
  if (t === undefined) return Buffer.from(EMPTY_TABLE_BYTES);
  const buf = Buffer.allocUnsafe(tableSize(t, 0));
  writeTable(buf, 0, t);
  return buf;
}

/** Encodes a field array with its 4-byte length prefix (for tests and completeness). */
export function encodeArray(a: readonly FieldValue[]): Buffer {
  const buf = Buffer.allocUnsafe(arraySize(a, 0));
  writeArray(buf, 0, a);
  return buf;
}

// ---------------------------------------------------------------------------
// Decoding. Every read is bounds-checked against the enclosing length, never
// against buf.length alone, so a lying inner length cannot read past its parent.

function overrun(what: string): AmqpError {
  return new AmqpError(FRAME_ERROR, `malformed field table: ${what}`, 0, 0, true);
}

function decodeLongString(buf: Buffer, start: number, end: number): string | LongString {
  const s = buf.toString("utf8", start, end);
  // Replacement characters are rare in real headers; only then pay for the validity check.
  if (s.indexOf("\ufffd") !== -1 && !isUtf8(buf.subarray(start, end))) {
    return new LongString(Buffer.from(buf.subarray(start, end)));
  }
  return s;
}

function i32(n: number): boolean {
  return n >= -0x80000000 && n <= 0x7fffffff;
}

/** Decodes one tagged value at buf[off]; `end` bounds the enclosing table/array. Returns the value; sets pos. */
class Cursor {
  pos = 0;
}

function need(cur: Cursor, n: number, end: number): void {
  if (cur.pos + n > end) throw overrun("value overruns its table");
}

function decodeValue(buf: Buffer, cur: Cursor, end: number, depth: number): FieldValue {
  need(cur, 1, end);
  const tag = buf[cur.pos++]!;
  let o = cur.pos;
  switch (tag) {
    case TAG_S: {
      need(cur, 4, end);
      const len = buf.readUInt32BE(o);
      o += 4;
      if (o + len > end) throw overrun("longstr overruns its table");
      cur.pos = o + len;
      return decodeLongString(buf, o, o + len);
    }
    case TAG_I:
      need(cur, 4, end);
      cur.pos = o + 4;
      return buf.readInt32BE(o);
    case TAG_t:
      need(cur, 1, end);
      cur.pos = o + 1;
      return buf[o] !== 0;
    case TAG_F: {
      need(cur, 4, end);
      const len = buf.readUInt32BE(o);
      if (o + 4 + len > end) throw overrun("nested table overruns its table");
      if (depth >= MAX_DEPTH) throw overrun("tables nested too deeply");
      cur.pos = o + 4 + len;
      return decodeEntries(buf, o + 4, o + 4 + len, depth + 1);
    }
    case TAG_A: {
      need(cur, 4, end);
      const len = buf.readUInt32BE(o);
      o += 4;
      if (o + len > end) throw overrun("array overruns its table");
      if (depth >= MAX_DEPTH) throw overrun("arrays nested too deeply");
      const arr: FieldValue[] = [];
      const inner = new Cursor();
      inner.pos = o;
      while (inner.pos < o + len) arr.push(decodeValue(buf, inner, o + len, depth + 1));
      cur.pos = o + len;
      return arr;
    }
    case TAG_l: {
      need(cur, 8, end);
      cur.pos = o + 8;
      const hi = buf.readInt32BE(o);
      const lo = buf.readUInt32BE(o + 4);
      // Safe integers need no BigInt: hi in (-2^21, 2^21) keeps |v| < 2^53 (-2^53 itself is not safe).
      if (hi > -0x200000 && hi < 0x200000) {
        const n = hi * 0x100000000 + lo;
        return i32(n) ? new TypedValue("l", n) : n;
      }
      const big = buf.readBigInt64BE(o);
      return Number.isSafeInteger(Number(big)) && BigInt(Number(big)) === big ? Number(big) : big;
    }
    case TAG_d: {
      need(cur, 8, end);
      cur.pos = o + 8;
      const n = buf.readDoubleBE(o);
      return numberTag(n) === TAG_d ? n : new TypedValue("d", n);
    }
    case TAG_V:
      return null;
    case TAG_x: {
      need(cur, 4, end);
      const len = buf.readUInt32BE(o);
      o += 4;
      if (o + len > end) throw overrun("byte array overruns its table");
      cur.pos = o + len;
      return Buffer.from(buf.subarray(o, o + len)); // copy: do not pin the whole read chunk
    }
    case TAG_b:
      need(cur, 1, end);
      cur.pos = o + 1;
      return new TypedValue("b", buf.readInt8(o));
    case TAG_B:
      need(cur, 1, end);
      cur.pos = o + 1;
      return new TypedValue("B", buf[o]!);
    case TAG_s:
      need(cur, 2, end);
      cur.pos = o + 2;
      return new TypedValue("s", buf.readInt16BE(o));
    case TAG_u:
      need(cur, 2, end);
      cur.pos = o + 2;
      return new TypedValue("u", buf.readUInt16BE(o));
    case TAG_i:
      need(cur, 4, end);
      cur.pos = o + 4;
      return new TypedValue("i", buf.readUInt32BE(o));
    case TAG_f:
      need(cur, 4, end);
      cur.pos = o + 4;
      return new TypedValue("f", buf.readFloatBE(o));
    case TAG_D:
      need(cur, 5, end);
      cur.pos = o + 5;
      return new Decimal(buf[o]!, buf.readUInt32BE(o + 1));
    case TAG_T: {
      need(cur, 8, end);
      cur.pos = o + 8;
      const hi = buf.readUInt32BE(o);
      if (hi < 0x200000) return new TypedValue("T", hi * 0x100000000 + buf.readUInt32BE(o + 4));
      return new TypedValue("T", buf.readBigUInt64BE(o));
    }
    default:
      throw overrun(`unknown field type tag 0x${tag.toString(16)}`);
  }
}

function decodeEntries(buf: Buffer, start: number, end: number, depth: number): FieldTable {
  const table: FieldTable = {};
  const cur = new Cursor();
  cur.pos = start;
  while (cur.pos < end) {
    const kl = buf[cur.pos]!;
    const ks = cur.pos + 1;
    if (ks + kl > end) throw overrun("key overruns its table");
    const key = buf.toString("utf8", ks, ks + kl);
    cur.pos = ks + kl;
    const v = decodeValue(buf, cur, end, depth);
    // defineProperty-free fast path; "__proto__" must not reach the prototype setter
    if (key === "__proto__") Object.defineProperty(table, key, { value: v, enumerable: true, writable: true, configurable: true });
    else table[key] = v;
  }
  return table;
}

/**
 * Decodes a table whose 4-byte length prefix is at `off`. `limit` (default
 * buf.length) bounds the read: the table must end at or before it.
 */
export function decodeTable(buf: Buffer, off: number, limit: number = buf.length): { table: FieldTable; end: number } {
  if (off + 4 > limit) throw overrun("table length overruns its frame");
  const len = buf.readUInt32BE(off);
  const end = off + 4 + len;
  if (end > limit) throw overrun("table overruns its frame");
  return { table: decodeEntries(buf, off + 4, end, 0), end };
}

/** Decodes a field array whose 4-byte length prefix is at `off` (mirror of decodeTable). */
export function decodeArray(buf: Buffer, off: number, limit: number = buf.length): { array: FieldValue[]; end: number } {
  if (off + 4 > limit) throw overrun("array length overruns its frame");
  const len = buf.readUInt32BE(off);
  const end = off + 4 + len;
  if (end > limit) throw overrun("array overruns its frame");
  const arr: FieldValue[] = [];
  const cur = new Cursor();
  cur.pos = off + 4;
  while (cur.pos < end) arr.push(decodeValue(buf, cur, end, 1));
  return { array: arr, end };
}

// ---------------------------------------------------------------------------
// Reading x-arguments and headers.

/**
 * The numeric value of a field, whatever integer/float tag the client chose
 * (clients send x-max-length as I, l, s, b, d, ...). bigint is converted
 * (precision may be lost beyond 2^53). Returns undefined for non-numbers.
 */
export function fieldNumber(v: FieldValue | undefined): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (v instanceof TypedValue) return Number(v.value);
  if (v instanceof Decimal) return v.value / 10 ** v.scale;
  return undefined;
}

/** The string value of a longstr ('S' or invalid-UTF-8 'S') or byte array; undefined otherwise. */
export function fieldString(v: FieldValue | undefined): string | undefined {
  if (typeof v === "string") return v;
  if (v instanceof LongString) return v.bytes.toString("utf8");
  if (Buffer.isBuffer(v)) return v.toString("utf8");
  return undefined;
}

/** Name of the wire tag a value will be encoded with ('S', 'I', 'F', ...). */
export function fieldTag(v: FieldValue): string {
  switch (typeof v) {
    case "string":
      return "S";
    case "boolean":
      return "t";
    case "number":
      return String.fromCharCode(numberTag(v));
    case "bigint":
      return "l";
    default:
      if (v === null) return "V";
      if (Buffer.isBuffer(v)) return "x";
      if (Array.isArray(v)) return "A";
      if (v instanceof TypedValue) return v.type;
      if (v instanceof Decimal) return "D";
      if (v instanceof LongString) return "S";
      return isPlainTable(v) ? "F" : "?";
  }
}

// ---------------------------------------------------------------------------
// Management API rendering, as RabbitMQ 3.10 renders arguments and headers
// (observed on GET /api/queues/<vhost>/<q> with every tag):
// numbers as JSON numbers (int64/timestamp too), booleans, strings;
// longstr/byte array that is not valid UTF-8 as "Not UTF-8, base64 is: <b64>";
// byte arrays that are UTF-8 as the string; void as the string "undefined";
// decimal {scale, value} as the number "<scale>.<value>" (RabbitMQ's own quirk:
// D(2, 12345) renders as 2.12345); arrays and tables recursively.

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

function bytesToJSON(b: Buffer): string {
  return isUtf8(b) ? b.toString("utf8") : `Not UTF-8, base64 is: ${b.toString("base64")}`;
}

export function fieldToJSON(v: FieldValue): JsonValue {
  switch (typeof v) {
    case "string":
    case "boolean":
    case "number":
      return v;
    case "bigint":
      return Number(v);
    default:
      if (v === null) return "undefined";
      if (Buffer.isBuffer(v)) return bytesToJSON(v);
      if (Array.isArray(v)) return v.map(fieldToJSON);
      if (v instanceof TypedValue) return Number(v.value);
      if (v instanceof Decimal) return Number(`${v.scale}.${v.value}`);
      if (v instanceof LongString) return bytesToJSON(v.bytes);
      return tableToJSON(v);
  }
}

export function tableToJSON(t: FieldTable | undefined): { [k: string]: JsonValue } {
  const out: { [k: string]: JsonValue } = {};
  if (t === undefined) return out;
  for (const k in t) {
    const v = t[k];
    if (v !== undefined) out[k] = fieldToJSON(v);
  }
  return out;
}
