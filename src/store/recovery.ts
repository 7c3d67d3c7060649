/**
 * Start-up scan of the message log: rebuilds the in-memory index and the
 * per-queue message lists from the segment, ack and queue-delete files.
 *
 * Owns: the recovery algorithm and its repairs (torn tails truncated, dead
 * segments and orphan ack files deleted, the queue-delete file compacted).
 * Does not own: the running store (segment-store.ts takes over what this returns).
 *
 * Algorithm, per segment in ascending number (= ascending storeId):
 *   1. read the .wseg, verify each record's CRC, stop at a torn tail and truncate it;
 *      push each message's id onto the QueueRefs of every queue in its record
 *      unless a QDELETE (queue deleted after the message was written) covers it;
 *   2. replay the segment's .wack: each ACK drops one (queue, id) reference;
 *   3. decode the still-referenced messages into RecoveredMessage objects
 *      (bodies eagerly only while under `eagerBodyBytes`; beyond, body = null and
 *      readBody() fetches it by (segment, offset) later).
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
  forEachKey,
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
    maxId = Math.max(maxId, scanSegment(seg, buf, st, maxId, o));
    if (fs.existsSync(seg.ackPath)) replayAcks(seg, st, o);
    decodeLive(seg, buf, st, ctx);
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

/** Pass 1: index the MESSAGE records; returns the highest id seen. */
function scanSegment(seg: Segment, buf: Buffer, st: RecoveredState, prevMax: number, o: RecoveryOptions): number {
  let lastId = prevMax;
  let bad = 0;
  const keyOf = new KeyCache();
  const res = scanRecords(buf, FILE_HEADER_SIZE, (type, ps, pe, rs) => {
    if (type !== T_MESSAGE) return;
    let l: MessageLayout;
    try {
      l = parseMessage(buf, ps, pe);
    } catch {
      bad++;
      return;
    }
    if (l.storeId <= lastId) {
      bad++; // ids only grow; a smaller one is damage that happened to pass the CRC
      return;
    }
    if (seg.count === 0) seg.firstId = l.storeId;
    lastId = l.storeId;
    st.records++;
    let refs = 0;
    forEachKey(buf, l, (s, e) => {
      const key = keyOf.get(buf, s, e);
      const deletedUpTo = st.deletedQueues.get(key);
      if (deletedUpTo !== undefined && deletedUpTo >= l.storeId) return;
      let q = st.queues.get(key);
      if (q === undefined) st.queues.set(key, (q = new QueueRefs()));
      q.push(l.storeId);
      refs++;
    });
    seg.add(l.storeId, rs, refs);
  });
  if (res.skipped + bad > 0) o.log(`store recovery: ${seg.path}: skipped ${res.skipped + bad} corrupt record(s)`);
  seg.size = res.validEnd;
  if (res.droppedBytes > 0) {
    o.log(`store recovery: ${seg.path}: dropped ${res.droppedBytes} byte(s) of torn/corrupt tail at offset ${res.validEnd}`);
    fs.truncateSync(seg.path, res.validEnd);
  }
  return lastId;
}

/** Pass 2: each ACK drops one (queue, id) reference of this segment's messages. */
function replayAcks(seg: Segment, st: RecoveredState, o: RecoveryOptions): void {
  const buf = fs.readFileSync(seg.ackPath);
  if (buf.length < FILE_HEADER_SIZE) {
    seg.ackSize = 0;
    fs.rmSync(seg.ackPath, { force: true });
    return;
  }
  checkFileHeader(buf, MAGIC_ACKS, seg.ackPath);
  const res = scanRecords(buf, FILE_HEADER_SIZE, (type, ps, pe) => {
    if (type !== T_ACK) return;
    const a = parseKeyed(buf, ps, pe);
    const slot = seg.slotOf(a.storeId);
    if (slot < 0) return;
    const q = st.queues.get(a.key);
    if (q === undefined || !q.remove(a.storeId)) return;
    if (--seg.refs[slot]! === 0) seg.live--;
  });
  seg.ackSize = res.validEnd;
  if (res.droppedBytes > 0) {
    o.log(`store recovery: ${seg.ackPath}: dropped ${res.droppedBytes} byte(s) of torn ack tail`);
    fs.truncateSync(seg.ackPath, res.validEnd);
  }
}

/** Pass 3: turn the still-referenced records into RecoveredMessage objects, per queue in id order. */
function decodeLive(seg: Segment, buf: Buffer, st: RecoveredState, ctx: DecodeContext): void {
  const keyOf = new KeyCache();
  for (let slot = 0; slot < seg.count; slot++) {
    if (seg.refs[slot] === 0) continue;
    const rs = seg.offsets[slot]!;
    const ps = rs + 8;
    const pe = ps + buf.readUInt32LE(rs);
    const l = parseMessage(buf, ps, pe);
    const m = ctx.message(buf, l);
    forEachKey(buf, l, (s, e) => {
      const key = keyOf.get(buf, s, e);
      if (st.queues.get(key)?.has(l.storeId) !== true) return;
      let list = st.messages.get(key);
      if (list === undefined) st.messages.set(key, (list = []));
      list.push(m);
    });
  }
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

/** Decodes queue keys, sharing the string when consecutive records name the same queue. */
class KeyCache {
  private lastBytes = Buffer.alloc(0);
  private last = "";
  get(buf: Buffer, s: number, e: number): string {
    // one native compare instead of a UTF-8 decode + allocation for the common case
    if (e - s === this.lastBytes.length && buf.compare(this.lastBytes, 0, this.lastBytes.length, s, e) === 0) return this.last;
    this.lastBytes = Buffer.from(buf.subarray(s, e));
    this.last = this.lastBytes.toString("utf8");
    return this.last;
  }
}

/**
 * Builds RecoveredMessage objects with shared strings and shared property
 * buffers (a backlog usually has a handful of distinct exchanges, routing keys
 * and property sets), and copies bodies only while under the eager budget.
 */
class DecodeContext {
  private strings = new Map<string, string>();
  private props = new Map<string, Buffer>();
  constructor(private budget: number) {}

  message(buf: Buffer, l: MessageLayout): RecoveredMessage {
    const bodySize = l.bodyEnd - l.bodyStart;
    let body: Buffer | null = null;
    if (bodySize <= this.budget) {
      body = Buffer.from(buf.subarray(l.bodyStart, l.bodyEnd));
      this.budget -= bodySize;
    } else {
      this.budget = 0; // keep queue order simple: once over budget, later bodies stay on disk
    }
    return {
      storeId: l.storeId,
      exchange: this.str(buf, l.exStart, l.exEnd),
      routingKey: this.str(buf, l.rkStart, l.rkEnd),
      propertiesRaw: this.properties(buf, l.propsStart, l.propsEnd),
      body,
      bodySize,
    };
  }

  private str(buf: Buffer, s: number, e: number): string {
    const v = buf.toString("utf8", s, e);
    const shared = this.strings.get(v);
    if (shared !== undefined) return shared;
    if (this.strings.size < 10_000) this.strings.set(v, v);
    return v;
  }

  private properties(buf: Buffer, s: number, e: number): Buffer {
    if (e - s > 64) return Buffer.from(buf.subarray(s, e));
    const k = buf.toString("latin1", s, e);
    const shared = this.props.get(k);
    if (shared !== undefined) return shared;
    const b = Buffer.from(buf.subarray(s, e));
    if (this.props.size < 10_000) this.props.set(k, b);
    return b;
  }
}
