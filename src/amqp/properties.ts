/**
 * basic.* content properties (the property list of a content header frame).
 *
 * Owns: BasicProperties, its encoder/decoder, and the content header frame
 * builder. Does not own: assembling header + body frames into a message
 * (the command assembler does that) or choosing when to decode (the server may
 * keep the raw property bytes and decode only when it must read them).
 *
 * Wire format (payload of a frame of type 2):
 *   class-id u16 | weight u16 (always 0) | body-size u64 | property-flags u16... | values
 * Flag bits from bit 15 down, in the spec's property order: content-type,
 * content-encoding, headers, delivery-mode, priority, correlation-id, reply-to,
 * expiration, message-id, timestamp, type, user-id, app-id, cluster-id
 * (bit 2). Bit 0 is the continuation bit: another flags word follows. Basic has
 * only 14 properties, so a continuation word must have no property bits set.
 * Values follow in flag order, present ones only: shortstr, table, octet, or
 * timestamp (u64 seconds; exact up to 2^53).
 *
 * Decoding is strict like the method decoders: values overrunning `end`, a
 * property bit beyond the 14 known ones, or bytes left over after the last
 * value throw AmqpError FRAME_ERROR (connection-level). The decoder always
 * sets all 14 fields (undefined when absent) so every result has one shape.
 */
import { AmqpError, FRAME_ERROR } from "./errors.js";
import { type FieldTable, decodeTable, encodedTableSize, writeTable } from "./field-table.js";

export interface BasicProperties {
  contentType?: string | undefined;
  contentEncoding?: string | undefined;
  headers?: FieldTable | undefined;
  deliveryMode?: number | undefined;
  priority?: number | undefined;
  correlationId?: string | undefined;
  replyTo?: string | undefined;
  expiration?: string | undefined;
  messageId?: string | undefined;
  timestamp?: number | undefined;
  type?: string | undefined;
  userId?: string | undefined;
  appId?: string | undefined;
  clusterId?: string | undefined;
}

/** Flag bits, in the spec's property order (flag for property i is 1 << (15 - i)). */
export const FLAG_CONTENT_TYPE = 0x8000;
export const FLAG_CONTENT_ENCODING = 0x4000;
export const FLAG_HEADERS = 0x2000;
export const FLAG_DELIVERY_MODE = 0x1000;
export const FLAG_PRIORITY = 0x0800;
export const FLAG_CORRELATION_ID = 0x0400;
export const FLAG_REPLY_TO = 0x0200;
export const FLAG_EXPIRATION = 0x0100;
export const FLAG_MESSAGE_ID = 0x0080;
export const FLAG_TIMESTAMP = 0x0040;
export const FLAG_TYPE = 0x0020;
export const FLAG_USER_ID = 0x0010;
export const FLAG_APP_ID = 0x0008;
export const FLAG_CLUSTER_ID = 0x0004;
const FLAG_CONTINUATION = 0x0001;

/** Property names in wire order (tests check this against the spec JSON). */
export const BASIC_PROPERTY_NAMES = [
  "contentType",
  "contentEncoding",
  "headers",
  "deliveryMode",
  "priority",
  "correlationId",
  "replyTo",
  "expiration",
  "messageId",
  "timestamp",
  "type",
  "userId",
  "appId",
  "clusterId",
] as const;

/** Content header payload bytes before the property flags: class-id, weight, body-size. */
export const CONTENT_HEADER_PREFIX = 12;

function malformed(what: string): AmqpError {
  return new AmqpError(FRAME_ERROR, `cannot decode content header properties: ${what}`, 0, 0, true);
}

// Small reader state shared by the decoder's helpers; decoding is synchronous, so one instance suffices.
let pos = 0;

function shortstr(buf: Buffer, end: number): string {
  if (pos >= end) throw malformed("overrun");
  const n = buf[pos]!;
  const s = pos + 1;
  if (s + n > end) throw malformed("overrun");
  pos = s + n;
  return buf.toString("utf8", s, s + n);
}

function octet(buf: Buffer, end: number): number {
  if (pos >= end) throw malformed("overrun");
  return buf[pos++]!;
}

/**
 * Decodes a property list; `off` points at the first property-flags word,
 * `end` is the end of the header frame payload.
 */
export function decodeProperties(buf: Buffer, off: number, end: number): BasicProperties {
  if (off + 2 > end) throw malformed("overrun");
  const flags = (buf[off]! << 8) | buf[off + 1]!;
  pos = off + 2;
  if (flags & FLAG_CONTINUATION) {
    // Further flag words may only carry further continuations: basic has no 15th property.
    let more = flags;
    while (more & FLAG_CONTINUATION) {
      if (pos + 2 > end) throw malformed("overrun");
      more = (buf[pos]! << 8) | buf[pos + 1]!;
      pos += 2;
      if (more & ~FLAG_CONTINUATION) throw malformed("unknown property flag");
    }
  }
  // bit 1 is unused by basic; ignored rather than rejected (clients never set it).

  const contentType = flags & FLAG_CONTENT_TYPE ? shortstr(buf, end) : undefined;
  const contentEncoding = flags & FLAG_CONTENT_ENCODING ? shortstr(buf, end) : undefined;
  let headers: FieldTable | undefined;
  if (flags & FLAG_HEADERS) {
    try {
      const t = decodeTable(buf, pos, end);
      headers = t.table;
      pos = t.end;
    } catch (e) {
      if (e instanceof AmqpError) throw malformed("headers: " + e.explanation);
      throw e;
    }
  }
  const deliveryMode = flags & FLAG_DELIVERY_MODE ? octet(buf, end) : undefined;
  const priority = flags & FLAG_PRIORITY ? octet(buf, end) : undefined;
  const correlationId = flags & FLAG_CORRELATION_ID ? shortstr(buf, end) : undefined;
  const replyTo = flags & FLAG_REPLY_TO ? shortstr(buf, end) : undefined;
  const expiration = flags & FLAG_EXPIRATION ? shortstr(buf, end) : undefined;
  const messageId = flags & FLAG_MESSAGE_ID ? shortstr(buf, end) : undefined;
  let timestamp: number | undefined;
  if (flags & FLAG_TIMESTAMP) {
    if (pos + 8 > end) throw malformed("overrun");
    timestamp = buf.readUInt32BE(pos) * 0x100000000 + buf.readUInt32BE(pos + 4);
    pos += 8;
  }
  const type = flags & FLAG_TYPE ? shortstr(buf, end) : undefined;
  const userId = flags & FLAG_USER_ID ? shortstr(buf, end) : undefined;
  const appId = flags & FLAG_APP_ID ? shortstr(buf, end) : undefined;
  const clusterId = flags & FLAG_CLUSTER_ID ? shortstr(buf, end) : undefined;
  if (pos !== end) throw malformed("trailing bytes");
  return {
    contentType,
    contentEncoding,
    headers,
    deliveryMode,
    priority,
    correlationId,
    replyTo,
    expiration,
    messageId,
    timestamp,
    type,
    userId,
    appId,
    clusterId,
  };
}

function strLen(s: string | undefined, name: string): number {
  if (s === undefined) return 0;
  const n = Buffer.byteLength(s);
  if (n > 255) throw new RangeError(`property ${name} is ${n} bytes; a shortstr holds at most 255`);
  return n + 1;
}

function writeStr(buf: Buffer, o: number, s: string, len: number): number {
  buf[o] = len - 1;
  buf.write(s, o + 1, "utf8");
  return o + len;
}

/** Encoded size of the property list (flags + values). */
export function encodedPropertiesSize(p: BasicProperties): number {
  return (
    2 +
    strLen(p.contentType, "contentType") +
    strLen(p.contentEncoding, "contentEncoding") +
    (p.headers !== undefined ? encodedTableSize(p.headers) : 0) +
    (p.deliveryMode !== undefined ? 1 : 0) +
    (p.priority !== undefined ? 1 : 0) +
    strLen(p.correlationId, "correlationId") +
    strLen(p.replyTo, "replyTo") +
    strLen(p.expiration, "expiration") +
    strLen(p.messageId, "messageId") +
    (p.timestamp !== undefined ? 8 : 0) +
    strLen(p.type, "type") +
    strLen(p.userId, "userId") +
    strLen(p.appId, "appId") +
    strLen(p.clusterId, "clusterId")
  );
}

/**
 * Writes the property list at `o` into `buf` (sized with encodedPropertiesSize)
 * and returns the offset after it. Absent (undefined) properties are omitted.
 */
export function writeProperties(buf: Buffer, o: number, p: BasicProperties): number {
  const start = o;
  let flags = 0;
  o += 2;
  if (p.contentType !== undefined) {
    flags |= FLAG_CONTENT_TYPE;
    o = writeStr(buf, o, p.contentType, strLen(p.contentType, "contentType"));
  }
  if (p.contentEncoding !== undefined) {
    flags |= FLAG_CONTENT_ENCODING;
    o = writeStr(buf, o, p.contentEncoding, strLen(p.contentEncoding, "contentEncoding"));
  }
  if (p.headers !== undefined) {
    flags |= FLAG_HEADERS;
    o = writeTable(buf, o, p.headers);
  }
  if (p.deliveryMode !== undefined) {
    flags |= FLAG_DELIVERY_MODE;
    buf.writeUInt8(p.deliveryMode, o++);
  }
  if (p.priority !== undefined) {
    flags |= FLAG_PRIORITY;
    buf.writeUInt8(p.priority, o++);
  }
  if (p.correlationId !== undefined) {
    flags |= FLAG_CORRELATION_ID;
    o = writeStr(buf, o, p.correlationId, strLen(p.correlationId, "correlationId"));
  }
  if (p.replyTo !== undefined) {
    flags |= FLAG_REPLY_TO;
    o = writeStr(buf, o, p.replyTo, strLen(p.replyTo, "replyTo"));
  }
  if (p.expiration !== undefined) {
    flags |= FLAG_EXPIRATION;
    o = writeStr(buf, o, p.expiration, strLen(p.expiration, "expiration"));
  }
  if (p.messageId !== undefined) {
    flags |= FLAG_MESSAGE_ID;
    o = writeStr(buf, o, p.messageId, strLen(p.messageId, "messageId"));
  }
  if (p.timestamp !== undefined) {
    flags |= FLAG_TIMESTAMP;
    buf.writeUInt32BE(Math.floor(p.timestamp / 0x100000000), o);
    buf.writeUInt32BE(p.timestamp >>> 0, o + 4);
    o += 8;
  }
  if (p.type !== undefined) {
    flags |= FLAG_TYPE;
    o = writeStr(buf, o, p.type, strLen(p.type, "type"));
  }
  if (p.userId !== undefined) {
    flags |= FLAG_USER_ID;
    o = writeStr(buf, o, p.userId, strLen(p.userId, "userId"));
  }
  if (p.appId !== undefined) {
    flags |= FLAG_APP_ID;
    o = writeStr(buf, o, p.appId, strLen(p.appId, "appId"));
  }
  if (p.clusterId !== undefined) {
    flags |= FLAG_CLUSTER_ID;
    o = writeStr(buf, o, p.clusterId, strLen(p.clusterId, "clusterId"));
  }
  buf[start] = flags >>> 8;
  buf[start + 1] = flags & 0xff;
  return o;
}

/** The property list (flags + values), without class-id/weight/body-size. */
export function encodeProperties(p: BasicProperties): Buffer {
  const buf = Buffer.allocUnsafe(encodedPropertiesSize(p));
  writeProperties(buf, 0, p);
  return buf;
}

/**
 * A complete content header frame (type 2 ... 0xCE) around an already encoded
 * property list — e.g. the raw bytes a publisher sent, forwarded untouched.
 * bodySize is exact up to 2^53.
 */
export function encodeContentHeaderFrame(channel: number, classId: number, bodySize: number, propertiesRaw: Buffer): Buffer {
  const payload = CONTENT_HEADER_PREFIX + propertiesRaw.length;
  const buf = Buffer.allocUnsafe(payload + 8);
  buf[0] = 2;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(payload, 3);
  buf.writeUInt16BE(classId, 7);
  buf[9] = 0; // weight
  buf[10] = 0;
  buf.writeUInt32BE(Math.floor(bodySize / 0x100000000), 11);
  buf.writeUInt32BE(bodySize >>> 0, 15);
  propertiesRaw.copy(buf, 19);
  buf[payload + 7] = 0xce;
  return buf;
}
