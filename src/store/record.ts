/**
 * On-disk record format shared by segment, ack and removed-queue files.
 *
 * Every file starts with an 8-byte header: 4-byte magic + u32le format version.
 * Then records, each framed as
 *
 *     u32le payloadLength | u32le crc32(payload) | payload
 *
 * and payload[0] is the record type:
 *
 *   MESSAGE (1): u48 storeId | u16 exchangeLen exchange | u16 routingKeyLen routingKey
 *                | u32 propertiesLen propertiesRaw | u16 queueCount (u16 keyLen key)*
 *                | u32 bodyLen body                       (body last: readBody slices it)
 *   ACK     (2): u48 storeId | u16 keyLen key             (queue `key` no longer holds storeId)
 *   QDELETE (3): u48 upToStoreId | u16 keyLen key         (queue `key` dropped every id <= upTo)
 *   DELIVERED (4): u48 storeId | u16 keyLen key           (queue `key` delivered storeId; in ack files;
 *                                                          readers that predate it skip the type)
 *
 * All integers little-endian; strings UTF-8. Owns encoding, decoding and the
 * torn-tail scanner; knows nothing of files or indexes.
 */
import { crc32 } from "./crc32.js";

export const FORMAT_VERSION = 1;
export const MAGIC_SEGMENT = "WSEG";
export const MAGIC_ACKS = "WACK";
export const MAGIC_QDELETE = "WQDL";
export const FILE_HEADER_SIZE = 8;
export const FRAME_SIZE = 8;

export const T_MESSAGE = 1;
export const T_ACK = 2;
export const T_QDELETE = 3;
export const T_DELIVERED = 4;

/** storeIds fit in 48 bits on disk; scratch (paged transient) ids live above. */
export const MAX_STORE_ID = 2 ** 48 - 1;

export function fileHeader(magic: string): Buffer {
  const b = Buffer.alloc(FILE_HEADER_SIZE);
  b.write(magic, 0, "latin1");
  b.writeUInt32LE(FORMAT_VERSION, 4);
  return b;
}

/** Throws a clear error if `buf` does not start with `magic` at a version we understand. */
export function checkFileHeader(buf: Buffer, magic: string, path: string): void {
  if (buf.length < FILE_HEADER_SIZE || buf.toString("latin1", 0, 4) !== magic) {
    throw new Error(`${path}: not a warren ${magic} file (bad magic)`);
  }
  const v = buf.readUInt32LE(4);
  if (v !== FORMAT_VERSION) {
    throw new Error(`${path}: on-disk format version ${v}, this warren reads version ${FORMAT_VERSION}; refusing to open`);
  }
}

export interface MessageFields {
  exchange: string;
  routingKey: string;
  propertiesRaw: Buffer;
  body: Buffer;
}

/** Total bytes (frame included) of a MESSAGE record; keyBytes[i] = byte length of keys[i]. */
export function messageRecordSize(exBytes: number, rkBytes: number, propsLen: number, keyBytes: readonly number[], bodyLen: number): number {
  let n = FRAME_SIZE + 1 + 6 + 2 + exBytes + 2 + rkBytes + 4 + propsLen + 2 + 4 + bodyLen;
  for (const k of keyBytes) n += 2 + k;
  return n;
}

/** Encode a MESSAGE record at buf[at..]; returns bytes written (= messageRecordSize). */
export function encodeMessage(buf: Buffer, at: number, storeId: number, m: MessageFields, keys: readonly string[]): number {
  let p = at + FRAME_SIZE;
  buf[p++] = T_MESSAGE;
  buf.writeUIntLE(storeId, p, 6);
  p += 6;
  p = writeStr16(buf, p, m.exchange);
  p = writeStr16(buf, p, m.routingKey);
  buf.writeUInt32LE(m.propertiesRaw.length, p);
  p += 4;
  p += m.propertiesRaw.copy(buf, p);
  buf.writeUInt16LE(keys.length, p);
  p += 2;
  for (const k of keys) p = writeStr16(buf, p, k);
  buf.writeUInt32LE(m.body.length, p);
  p += 4;
  p += m.body.copy(buf, p);
  return finishFrame(buf, at, p);
}

/** Encode an ACK or QDELETE record (same layout) at buf[at..]; returns bytes written. */
export function encodeKeyed(buf: Buffer, at: number, type: number, storeId: number, key: string): number {
  let p = at + FRAME_SIZE;
  buf[p++] = type;
  buf.writeUIntLE(storeId, p, 6);
  p += 6;
  p = writeStr16(buf, p, key);
  return finishFrame(buf, at, p);
}

export function keyedRecordSize(keyBytes: number): number {
  return FRAME_SIZE + 1 + 6 + 2 + keyBytes;
}

function finishFrame(buf: Buffer, at: number, end: number): number {
  const payload = buf.subarray(at + FRAME_SIZE, end);
  buf.writeUInt32LE(payload.length, at);
  buf.writeUInt32LE(crc32(payload), at + 4);
  return end - at;
}

function writeStr16(buf: Buffer, p: number, s: string): number {
  const n = buf.write(s, p + 2, "utf8");
  buf.writeUInt16LE(n, p);
  return p + 2 + n;
}

export function strBytes(s: string): number {
  // ASCII fast path: most names are ASCII and Buffer.byteLength is a native call
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.byteLength(s, "utf8");
  return s.length;
}

/** Offsets of the fields of a MESSAGE payload starting at `p` (payload[0] = type). */
export interface MessageLayout {
  storeId: number;
  exStart: number;
  exEnd: number;
  rkStart: number;
  rkEnd: number;
  propsStart: number;
  propsEnd: number;
  keysStart: number;
  keyCount: number;
  bodyStart: number;
  bodyEnd: number;
}

/** Parse a MESSAGE payload in place (no allocation but the layout object). Throws on inconsistency. */
export function parseMessage(buf: Buffer, p: number, end: number): MessageLayout {
  const storeId = buf.readUIntLE(p + 1, 6);
  let q = p + 7;
  const exStart = q + 2;
  const exEnd = exStart + buf.readUInt16LE(q);
  q = exEnd;
  const rkStart = q + 2;
  const rkEnd = rkStart + buf.readUInt16LE(q);
  q = rkEnd;
  const propsStart = q + 4;
  const propsEnd = propsStart + buf.readUInt32LE(q);
  q = propsEnd;
  const keyCount = buf.readUInt16LE(q);
  q += 2;
  const keysStart = q;
  for (let i = 0; i < keyCount; i++) q += 2 + buf.readUInt16LE(q);
  const bodyStart = q + 4;
  const bodyEnd = bodyStart + buf.readUInt32LE(q);
  if (bodyEnd !== end) throw new Error("message record length mismatch");
  return { storeId, exStart, exEnd, rkStart, rkEnd, propsStart, propsEnd, keysStart, keyCount, bodyStart, bodyEnd };
}

/** Call fn(start, end) for each queue key's bytes in a MESSAGE payload. */
export function forEachKey(buf: Buffer, l: MessageLayout, fn: (start: number, end: number) => void): void {
  let q = l.keysStart;
  for (let i = 0; i < l.keyCount; i++) {
    const n = buf.readUInt16LE(q);
    fn(q + 2, q + 2 + n);
    q += 2 + n;
  }
}

export interface Keyed {
  storeId: number;
  key: string;
}

export function parseKeyed(buf: Buffer, p: number, end: number): Keyed {
  const storeId = buf.readUIntLE(p + 1, 6);
  const n = buf.readUInt16LE(p + 7);
  if (p + 9 + n !== end) throw new Error("keyed record length mismatch");
  return { storeId, key: buf.toString("utf8", p + 9, end) };
}

export type ScanVisitor = (type: number, payloadStart: number, payloadEnd: number, recordStart: number) => void;

export interface ScanResult {
  /** offset just past the last good record: the file should be truncated here */
  validEnd: number;
  /** records skipped because their CRC failed but the next record was sound */
  skipped: number;
  /** bytes after validEnd that were not usable (torn tail or unreadable data) */
  droppedBytes: number;
}

/**
 * Walk the records of `buf` from `start` (just after the file header). A record
 * is good when its frame fits and its CRC matches. A bad record followed by a
 * good one (length intact, payload damaged) is skipped; anything else bad ends
 * the scan there: it is a torn tail (the crash hit mid-write) or damage we cannot
 * resynchronise after, and everything from it on is reported as dropped.
 * Never hands a visitor half-written or unchecked bytes.
 */
export function scanRecords(buf: Buffer, start: number, visit: ScanVisitor): ScanResult {
  let p = start;
  let skipped = 0;
  const end = buf.length;
  while (p < end) {
    const len = frameLength(buf, p, end);
    if (len < 0) break;
    const ps = p + FRAME_SIZE;
    const pe = ps + len;
    if (crc32(buf.subarray(ps, pe)) === buf.readUInt32LE(p + 4)) {
      visit(buf[ps]!, ps, pe, p);
      p = pe;
      continue;
    }
    // CRC mismatch: skip it only when a sound record follows (so the length was right)
    if (pe < end && isSoundRecord(buf, pe, end)) {
      skipped++;
      p = pe;
      continue;
    }
    break;
  }
  return { validEnd: p, skipped, droppedBytes: end - p };
}

/** Payload length if a plausible frame starts at p, else -1. */
function frameLength(buf: Buffer, p: number, end: number): number {
  if (end - p < FRAME_SIZE + 1) return -1;
  const len = buf.readUInt32LE(p);
  if (len < 1 || p + FRAME_SIZE + len > end) return -1;
  return len;
}

function isSoundRecord(buf: Buffer, p: number, end: number): boolean {
  const len = frameLength(buf, p, end);
  if (len < 0) return false;
  return crc32(buf.subarray(p + FRAME_SIZE, p + FRAME_SIZE + len)) === buf.readUInt32LE(p + 4);
}
