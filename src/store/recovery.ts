/**
 * Start-up scan of the message log: rebuilds the in-memory index and the
 * per-queue message lists from the segment, ack and queue-delete files.
 *
 * Owns: the recovery algorithm and its repairs (torn tails truncated, dead
 * segments and orphan ack files deleted, the queue-delete file compacted).
 * Does not own: the running store (segment-store.ts takes over what this returns).
 *
 * Algorithm, per segment in ascending number (= ascending storeId):
 *   1. read the segment's .wack (truncating a torn tail): the (id, queue) pairs acked,
 *      and those delivered (DELIVERED marks: the message comes back redelivered there);
 *   2. read the .wseg in one pass, verifying each record's CRC and stopping at a
 *      torn tail (truncated away); a (message, queue) reference is live unless
 *      ACKed or covered by a QDELETE (queue deleted after the message was written);
 *      live ids go onto the queue's QueueRefs, and live messages are decoded into
 *      RecoveredMessage objects (bodies eagerly only while under `eagerBodyBytes`;
 *      beyond, body = null and readBody() fetches it by (segment, offset) later);
 *   3. a segment left without live messages is deleted with its ack file.
 * Queue order = storeId order, because ids are assigned in write order.
 */
import * as fs from "node:fs";
import { join } from "node:path";
import { fsyncDir } from "./io.js";
import { QueueRefs } from "./queue-refs.js";
import {
  checkFileHeader,
  FILE_HEADER_SIZE,
  fileHeader,
  keyedRecordSize,
  encodeKeyed,
  MAGIC_ACKS,
  MAGIC_QDELETE,
  MAGIC_SEGMENT,
  parseKeyed,
  parseMessage,
  scanRecords,
  strBytes,
  T_ACK,
  T_DELIVERED,
  T_MESSAGE,
  T_QDELETE,
  type MessageLayout,
} from "./record.js";
import { Segment, segmentName } from "./segment.js";
import type { RecoveredMessage } from "./types.js";

export const QDELETE_FILE = "deleted-queues.wqdl";

export interface RecoveryOptions {
  dir: string;
  eagerBodyBytes: number;
  /** fsync repairs (truncations, deletions) unless the policy is "none" */
  durable: boolean;
  log: (line: string) => void;
  /** data loss (corrupt records skipped): said at error level, never only at info */
  logError?: (line: string) => void;
}

export interface RecoveredState {
  segments: Segment[];
  queues: Map<string, QueueRefs>;
  messages: Map<string, RecoveredMessage[]>;
  /** QDELETE entries still relevant: key -> every id <= value is gone from that queue */
  deletedQueues: Map<string, number>;
  nextId: number;
  nextSegmentNum: number;
  liveMessages: number;
  /** records scanned, for the log line */
  records: number;
  /** message records skipped as corrupt (their messages are lost), and bytes of corrupt tails cut off */
  corruptRecords: number;
  droppedTailBytes: number;
}

export function recover(o: RecoveryOptions): RecoveredState {
  const names = fs.readdirSync(o.dir);
  const segNums = new Set<number>();
  const ackNums = new Set<number>();
  for (const n of names) {
    const m = /^(\d{10})\.(wseg|wack)$/.exec(n);
    if (m !== null) (m[2] === "wseg" ? segNums : ackNums).add(Number(m[1]));
    else if (n.endsWith(".tmp")) fs.rmSync(join(o.dir, n), { force: true });
  }
  const deletedQueues = readQueueDeletes(join(o.dir, QDELETE_FILE), o.log);
  const st: RecoveredState = {
    segments: [],
    queues: new Map(),
    messages: new Map(),
    deletedQueues,
    nextId: 1,
    nextSegmentNum: 1,
    liveMessages: 0,
    records: 0,
    corruptRecords: 0,
    droppedTailBytes: 0,
  };
  const ctx = new DecodeContext(o.eagerBodyBytes);
  let maxId = 0;
  let dirChanged = false;
  for (const num of [...segNums].sort((a, b) => a - b)) {
    st.nextSegmentNum = num + 1;
    const seg = new Segment(o.dir, num, 0);
    const buf = fs.readFileSync(seg.path);
    if (buf.length < FILE_HEADER_SIZE) {
      // created, crashed before its header reached the disk: nothing in it
      removeSegmentFiles(seg, o);
      dirChanged = true;
      continue;
    }
    checkFileHeader(buf, MAGIC_SEGMENT, seg.path);
    const delivered = new Map<number, string | string[]>();
    const acked = fs.existsSync(seg.ackPath) ? readAcks(seg, o, delivered) : new Map<number, string | string[]>();
    maxId = Math.max(maxId, scanSegment(seg, buf, acked, delivered, st, maxId, ctx, o));
    seg.seal();
    if (seg.live === 0) {
      removeSegmentFiles(seg, o);
      dirChanged = true;
      continue;
    }
    st.segments.push(seg);
    st.liveMessages += seg.live;
  }
  for (const num of ackNums) {
    if (st.segments.some((s) => s.num === num)) continue;
    // an ack file whose segment is gone (crash between the two unlinks): meaningless now
    const orphan = join(o.dir, segmentName(num) + ".wack");
    if (fs.existsSync(orphan)) {
      fs.rmSync(orphan, { force: true });
      dirChanged = true;
    }
  }
  for (const v of deletedQueues.values()) maxId = Math.max(maxId, v);
  st.nextId = maxId + 1;
  compactQueueDeletes(st, o);
  if (dirChanged && o.durable) fsyncDir(o.dir);
  return st;
}

/**
 * One pass over a segment: index every MESSAGE record, push its id onto the
 * QueueRefs of each queue that still holds it (not covered by a QDELETE, not
 * ACKed), and decode the still-referenced ones. Returns the highest id seen.
 */
function scanSegment(
  seg: Segment,
  buf: Buffer,
  acked: Map<number, string | string[]>,
  delivered: Map<number, string | string[]>,
  st: RecoveredState,
  prevMax: number,
  ctx: DecodeContext,
  o: RecoveryOptions,
): number {
  let lastId = prevMax;
  let bad = 0;
  const keyOf = new BytesCache();
  const live: string[] = [];
  const checkAcks = acked.size > 0;
  const checkDeletes = st.deletedQueues.size > 0;
  const res = scanRecords(buf, FILE_HEADER_SIZE, (type, ps, pe, rs) => {
    if (type !== T_MESSAGE) return;
    let l: MessageLayout;
    try {
      l = parseMessage(buf, ps, pe);
    } catch {
      bad++;
      return;
    }
    const id = l.storeId;
    if (id <= lastId) {
      bad++; // ids only grow; a smaller one is damage that happened to pass the CRC
      return;
    }
    if (seg.count === 0) seg.firstId = id;
    lastId = id;
    st.records++;
    live.length = 0;
    let q = l.keysStart;
    for (let i = 0; i < l.keyCount; i++) {
      const n = buf.readUInt16LE(q);
      const key = keyOf.get(buf, q + 2, q + 2 + n);
      q += 2 + n;
      if (checkDeletes && (st.deletedQueues.get(key) ?? 0) >= id) continue;
      if (checkAcks && isAcked(acked, id, key)) continue;
      live.push(key);
    }
    seg.add(id, rs, live.length);
    if (live.length === 0) return;
    const m = ctx.message(buf, l);
    const d = delivered.size > 0 ? delivered.get(id) : undefined;
    if (d !== undefined) m.deliveredIn = typeof d === "string" ? [d] : d;
    for (const key of live) {
      let refs = st.queues.get(key);
      if (refs === undefined) st.queues.set(key, (refs = new QueueRefs()));
      refs.push(id);
      let list = st.messages.get(key);
      if (list === undefined) st.messages.set(key, (list = []));
      list.push(m);
    }
  });
  if (res.skipped + bad > 0) {
    // each skipped record is a message lost: say so where operators look (error level) and count it
    st.corruptRecords += res.skipped + bad;
    (o.logError ?? o.log)(`store recovery: ${seg.path}: skipped ${res.skipped + bad} corrupt record(s); their messages are lost`);
  }
  seg.size = res.validEnd;
  if (res.droppedBytes > 0) {
    st.droppedTailBytes += res.droppedBytes;
    o.log(`store recovery: ${seg.path}: dropped ${res.droppedBytes} byte(s) of torn/corrupt tail at offset ${res.validEnd}`);
    fs.truncateSync(seg.path, res.validEnd);
  }
  return lastId;
}

function isAcked(acked: Map<number, string | string[]>, id: number, key: string): boolean {
  const a = acked.get(id);
  if (a === undefined) return false;
  return typeof a === "string" ? a === key : a.includes(key);
}

/**
 * Read the segment's .wack (before the segment, so one pass suffices): id -> queue key(s)
 * that acked it; DELIVERED marks go into `delivered` the same way.
 */
function readAcks(seg: Segment, o: RecoveryOptions, delivered: Map<number, string | string[]>): Map<number, string | string[]> {
  const acked = new Map<number, string | string[]>();
  const buf = fs.readFileSync(seg.ackPath);
  if (buf.length < FILE_HEADER_SIZE) {
    seg.ackSize = 0;
    fs.rmSync(seg.ackPath, { force: true });
    return acked;
  }
  checkFileHeader(buf, MAGIC_ACKS, seg.ackPath);
  const res = scanRecords(buf, FILE_HEADER_SIZE, (type, ps, pe) => {
    if (type !== T_ACK && type !== T_DELIVERED) return;
    const a = parseKeyed(buf, ps, pe);
    const into = type === T_ACK ? acked : delivered;
    const prev = into.get(a.storeId);
    if (prev === undefined) into.set(a.storeId, a.key);
    else if (typeof prev === "string") into.set(a.storeId, [prev, a.key]);
    else prev.push(a.key);
  });
  seg.ackSize = res.validEnd;
  if (res.droppedBytes > 0) {
    o.log(`store recovery: ${seg.ackPath}: dropped ${res.droppedBytes} byte(s) of torn ack tail`);
    fs.truncateSync(seg.ackPath, res.validEnd);
  }
  return acked;
}

function removeSegmentFiles(seg: Segment, o: RecoveryOptions): void {
  // segment first: if we crash in between, an ack file without segment is ignored next time
  fs.rmSync(seg.path, { force: true });
  if (o.durable) fsyncDir(o.dir);
  fs.rmSync(seg.ackPath, { force: true });
}

function readQueueDeletes(path: string, log: (l: string) => void): Map<string, number> {
  const out = new Map<string, number>();
  if (!fs.existsSync(path)) return out;
  const buf = fs.readFileSync(path);
  if (buf.length < FILE_HEADER_SIZE) return out;
  checkFileHeader(buf, MAGIC_QDELETE, path);
  const res = scanRecords(buf, FILE_HEADER_SIZE, (type, ps, pe) => {
    if (type !== T_QDELETE) return;
    const d = parseKeyed(buf, ps, pe);
    out.set(d.key, Math.max(out.get(d.key) ?? 0, d.storeId));
  });
  if (res.droppedBytes > 0) log(`store recovery: ${path}: dropped ${res.droppedBytes} byte(s) of torn tail`);
  return out;
}

/**
 * Keep only QDELETE entries that can still hide a message (upTo >= the oldest
 * surviving id) and rewrite the file atomically (tmp + fsync + rename). It is
 * always rewritten so that a torn tail is gone before anything is appended.
 */
function compactQueueDeletes(st: RecoveredState, o: RecoveryOptions): void {
  const path = join(o.dir, QDELETE_FILE);
  const oldest = st.segments.length > 0 ? st.segments[0]!.firstId : Infinity;
  for (const [k, upTo] of st.deletedQueues) if (upTo < oldest) st.deletedQueues.delete(k);
  if (st.deletedQueues.size === 0 && !fs.existsSync(path)) return;
  const parts: Buffer[] = [fileHeader(MAGIC_QDELETE)];
  for (const [k, upTo] of st.deletedQueues) {
    const b = Buffer.allocUnsafe(keyedRecordSize(strBytes(k)));
    encodeKeyed(b, 0, T_QDELETE, upTo, k);
    parts.push(b);
  }
  const tmp = path + ".tmp";
  const fd = fs.openSync(tmp, "w");
  try {
    fs.writeSync(fd, Buffer.concat(parts));
    if (o.durable) fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path);
}

/**
 * Decodes short strings/buffers, reusing the previous result when the bytes are
 * the same (consecutive records of a backlog usually name the same queue,
 * exchange and routing key, with the same properties): a byte compare in JS is
 * far cheaper than a native decode + allocation per record.
 */
class BytesCache<T = string> {
  private bytes = Buffer.alloc(0);
  private value: T | undefined;
  constructor(private readonly decode: (bytes: Buffer) => T = (b) => b.toString("utf8") as T) {}

  get(buf: Buffer, s: number, e: number): T {
    const n = e - s;
    const last = this.bytes;
    if (n === last.length && this.value !== undefined) {
      let i = 0;
      if (n <= 64) {
        while (i < n && buf[s + i] === last[i]) i++;
        if (i === n) return this.value;
      } else if (buf.compare(last, 0, n, s, e) === 0) return this.value;
    }
    this.bytes = Buffer.from(buf.subarray(s, e));
    this.value = this.decode(this.bytes);
    return this.value;
  }
}

/**
 * Builds RecoveredMessage objects with shared strings and property buffers,
 * and copies bodies only while under the eager budget.
 */
class DecodeContext {
  private exchange = new BytesCache();
  private routingKey = new BytesCache();
  private props = new BytesCache<Buffer>((b) => b);
  constructor(private budget: number) {}

  message(buf: Buffer, l: MessageLayout): RecoveredMessage {
    const bodySize = l.bodyEnd - l.bodyStart;
    let body: Buffer | null = null;
    if (bodySize <= this.budget) {
      body = Buffer.allocUnsafe(bodySize);
      buf.copy(body, 0, l.bodyStart, l.bodyEnd);
      this.budget -= bodySize;
    } else {
      this.budget = 0; // once over budget, later bodies stay on disk (earlier ones are delivered first)
    }
    return {
      storeId: l.storeId,
      exchange: this.exchange.get(buf, l.exStart, l.exEnd),
      routingKey: this.routingKey.get(buf, l.rkStart, l.rkEnd),
      propertiesRaw: this.props.get(buf, l.propsStart, l.propsEnd),
      body,
      bodySize,
    };
  }
}
