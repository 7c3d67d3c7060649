/**
 * SegmentStore: the durable MessageStore — an append-only log of segment files.
 *
 * Owns: <dir>/NNNNNNNNNN.wseg (message records, each written ONCE however many
 * queues reference it), <dir>/NNNNNNNNNN.wack (removals of that segment's
 * messages), <dir>/deleted-queues.wqdl (deleteQueue markers), <dir>/scratch/
 * (paged-out transient bodies). Formats: record.ts. Start-up: recovery.ts.
 * Does not own: what a queue is (the broker), when to confirm (the broker calls
 * sync(cb) and confirms in cb).
 *
 * Invariants:
 *  - storeIds grow monotonically in write order, so queue order = id order and
 *    the ids of one segment are contiguous (the index is typed arrays).
 *  - A removal (ACK) record is written to the ack file of the segment holding
 *    the message; a segment and its ack file are deleted together (segment
 *    first), and only when the segment is closed and every message in it has no
 *    reference left. So a removal can never be lost while its message exists.
 *  - deleteQueue writes one QDELETE (key, upToId) record (not one ACK per
 *    message); it is flushed and fdatasynced before any segment it empties is
 *    unlinked, so a crash cannot resurrect the queue's messages from older segments.
 *  - deleteQueue before recover()/the first persist() is a definitions replay of a
 *    deletion already on disk and is ignored (else a re-declared queue of the same
 *    name would lose the messages it got after the deletion).
 *  - Nothing here throws out of persist/remove/sync on an I/O error: write errors
 *    reach the sync(cb) callbacks and the data stays pending for a retry.
 */
import * as fs from "node:fs";
import { join } from "node:path";
import { AppendFile } from "./append-file.js";
import { GroupCommit } from "./group-commit.js";
import { fsyncDir, makeIo, type IoCounters, type StoreIo } from "./io.js";
import { QueueRefs } from "./queue-refs.js";
import { QDELETE_FILE, recover } from "./recovery.js";
import {
  checkFileHeader,
  encodeKeyed,
  encodeMessage,
  FILE_HEADER_SIZE,
  fileHeader,
  keyedRecordSize,
  MAGIC_QDELETE,
  MAGIC_SEGMENT,
  MAX_STORE_ID,
  messageRecordSize,
  parseMessage,
  strBytes,
  T_ACK,
  T_DELIVERED,
  T_QDELETE,
} from "./record.js";
import { crc32 } from "./crc32.js";
import { SCRATCH_ID_BASE, ScratchSpace } from "./scratch.js";
import { Segment } from "./segment.js";
import type { FsyncPolicy, MessageStore, RecoveredMessage, StorableMessage } from "./types.js";

export interface SegmentStoreOptions {
  dir: string;
  fsync: FsyncPolicy;
  /** fsync period under "interval" (default 1000 ms) */
  fsyncIntervalMs?: number;
  /** roll to a new segment file beyond this size (default 64 MiB; max 2 GiB) */
  segmentSize?: number;
  /** recovery keeps bodies in memory up to this many bytes in total, beyond that body = null (default 64 MiB) */
  eagerBodyBytes?: number;
  log?: (line: string) => void;
  /** where data loss found at recovery is reported (error level); default: log */
  logError?: (line: string) => void;
  /** test hook: replace the write/fdatasync calls (ENOSPC/EIO injection) */
  io?: Partial<StoreIo>;
}

export interface SegmentStoreStats {
  /** messages referenced by at least one queue */
  messages: number;
  /** bytes of segment + ack files */
  bytes: number;
  segments: number;
  /** paged-out transient bodies and their scratch bytes */
  pagedMessages: number;
  scratchBytes: number;
  /** write syscalls, fdatasync calls and group-commit batches since open */
  writes: number;
  fsyncs: number;
  syncBatches: number;
  /** bytes of the in-memory index (segment slots + queue reference lists) */
  indexBytes: number;
  /** milliseconds the open-time recovery scan took */
  recoveryMs: number;
  /** corrupt message records skipped at recovery: messages lost */
  corruptRecords: number;
  /** messages written (persisted or paged out) and bodies read back since start */
  diskWrites: number;
  diskReads: number;
}

const DEFAULT_SEGMENT = 64 * 1024 * 1024;
/** flush mid-turn once this much is pending, so one huge turn cannot pin unbounded memory */
const FLUSH_THRESHOLD = 8 * 1024 * 1024;

export class SegmentStore implements MessageStore {
  private readonly segments: Segment[];
  private readonly queues: Map<string, QueueRefs>;
  private recovered: Map<string, RecoveredMessage[]> | null;
  private current: Segment | null = null;
  private nextId: number;
  /** messages written to disk (persisted or paged out) and bodies read back: RabbitMQ's disk_writes/disk_reads */
  private diskWrites = 0;
  private diskReads = 0;
  private nextSegmentNum: number;
  private liveMessages: number;
  private qdelete: AppendFile | null = null;
  private readonly counters: IoCounters = { writes: 0, fsyncs: 0, syncBatches: 0 };
  private readonly io: StoreIo;
  private readonly gc: GroupCommit;
  private readonly scratch: ScratchSpace;
  private readonly segmentSize: number;
  private readonly log: (line: string) => void;
  private pendingBytes = 0;
  private lastWriteError: Error | null = null;
  private closed = false;
  private readonly recoveryMs: number;
  /** corrupt message records skipped at recovery (lost messages) */
  private readonly corruptRecords: number;
  /** true from open until recover() or the first persist(): deleteQueue calls are definition replays */
  private replaying = true;

  static open(opts: SegmentStoreOptions): SegmentStore {
    fs.mkdirSync(opts.dir, { recursive: true });
    return new SegmentStore(opts);
  }

  private constructor(private readonly opts: SegmentStoreOptions) {
    this.log = opts.log ?? ((l) => process.stderr.write(l + "\n"));
    this.io = makeIo(opts.io);
    this.segmentSize = Math.min(opts.segmentSize ?? testSegmentSize() ?? DEFAULT_SEGMENT, 2 ** 31);
    const t0 = performance.now();
    const st = recover({
      dir: opts.dir,
      eagerBodyBytes: opts.eagerBodyBytes ?? 64 * 1024 * 1024,
      durable: opts.fsync !== "none",
      log: this.log,
      ...(opts.logError ? { logError: opts.logError } : {}),
    });
    this.recoveryMs = performance.now() - t0;
    this.corruptRecords = st.corruptRecords;
    this.segments = st.segments;
    this.queues = st.queues;
    this.recovered = st.messages;
    this.nextId = st.nextId;
    this.nextSegmentNum = st.nextSegmentNum;
    this.liveMessages = st.liveMessages;
    if (st.records > 0) {
      this.log(`store: recovered ${st.liveMessages} message(s) in ${st.segments.length} segment(s) from ${st.records} record(s) in ${this.recoveryMs.toFixed(0)} ms`);
    }
    this.scratch = new ScratchSpace(join(opts.dir, "scratch"), this.segmentSize, this.io, this.counters);
    this.gc = new GroupCommit(
      opts.fsync,
      opts.fsyncIntervalMs ?? 1000,
      {
        flushAll: () => this.flushAll(),
        unsyncedFiles: (all) => this.unsyncedFiles(all),
      },
      this.io,
      this.counters,
      this.log,
    );
  }

  // ---- MessageStore ---------------------------------------------------------

  recover(): Map<string, RecoveredMessage[]> {
    const r = this.recovered ?? new Map<string, RecoveredMessage[]>();
    this.recovered = null; // let the broker own (and free) them
    this.replaying = false;
    return r;
  }

  persist(msg: StorableMessage, queueKeys: readonly string[]): void {
    this.assertOpen();
    this.replaying = false;
    const keys = uniqueKeys(queueKeys);
    if (keys.length === 0) return;
    if (msg.storeId !== 0 && msg.storeId < SCRATCH_ID_BASE) throw new Error(`message already persisted as ${msg.storeId}`);
    const body = msg.body ?? (msg.storeId !== 0 ? this.readBody(msg.storeId) : null);
    if (body === null) throw new Error("persist: message has no body and no storeId to read it from");
    const keyBytes = keys.map(strBytes);
    const size = messageRecordSize(strBytes(msg.exchange), strBytes(msg.routingKey), msg.propertiesRaw.length, keyBytes, body.length);
    const seg = this.writableSegment(size);
    const id = this.nextId++;
    if (id > MAX_STORE_ID) throw new Error("storeId space exhausted");
    const file = seg.file!;
    const offset = file.end;
    const r = file.reserve(size);
    encodeMessage(r.buf, r.at, id, { exchange: msg.exchange, routingKey: msg.routingKey, propertiesRaw: msg.propertiesRaw, body }, keys);
    seg.add(id, offset, keys.length);
    for (const k of keys) {
      let q = this.queues.get(k);
      if (q === undefined) this.queues.set(k, (q = new QueueRefs()));
      q.push(id);
    }
    this.liveMessages++;
    if (msg.storeId >= SCRATCH_ID_BASE) this.scratch.release(msg.storeId);
    msg.storeId = id;
    this.diskWrites++;
    this.wrote(size);
  }

  remove(queueKey: string, storeId: number): void {
    if (this.closed) return;
    const q = this.queues.get(queueKey);
    if (q === undefined || !q.remove(storeId)) return; // idempotent: unknown or already removed
    if (q.live === 0) this.queues.delete(queueKey);
    const seg = this.segmentOf(storeId);
    if (seg === null) return;
    if (this.release(seg, storeId)) return; // the segment (and its ack file) are gone: no ack needed
    const acks = this.ackFileOf(seg);
    if (acks === null) return;
    const size = keyedRecordSize(strBytes(queueKey));
    const r = acks.reserve(size);
    encodeKeyed(r.buf, r.at, T_ACK, storeId, queueKey);
    this.wrote(size);
  }

  markDelivered(queueKey: string, storeId: number): void {
    if (this.closed) return;
    const q = this.queues.get(queueKey);
    if (q === undefined || !q.has(storeId)) return;
    const seg = this.segmentOf(storeId);
    const acks = seg === null ? null : this.ackFileOf(seg);
    if (acks === null) return;
    const size = keyedRecordSize(strBytes(queueKey));
    const r = acks.reserve(size);
    encodeKeyed(r.buf, r.at, T_DELIVERED, storeId, queueKey);
    this.wrote(size);
  }

  deleteQueue(queueKey: string): void {
    if (this.closed) return;
    // Before recover() and any persist() the broker is replaying its definitions log:
    // this deletion happened in an earlier run and its QDELETE is already on disk (and
    // applied by the recovery scan). Applying it again with today's nextId would also
    // delete the messages of a queue re-declared under the same name afterwards.
    if (this.replaying) return;
    const q = this.queues.get(queueKey);
    if (q === undefined) return; // nothing on disk is still referenced by it
    this.queues.delete(queueKey);
    const f = this.qdeleteFile();
    const size = keyedRecordSize(strBytes(queueKey));
    const r = f.reserve(size);
    encodeKeyed(r.buf, r.at, T_QDELETE, this.nextId - 1, queueKey);
    this.makeRemovalsDurable();
    q.forEachLive((id) => {
      const seg = this.segmentOf(id);
      if (seg !== null) this.release(seg, id);
    });
    this.gc.scheduleFlush();
  }

  sync(cb: (err?: Error) => void): void {
    if (this.closed) {
      setImmediate(() => cb(new Error("store is closed")));
      return;
    }
    this.gc.requestSync(cb);
  }

  readBody(storeId: number): Buffer {
    this.diskReads++;
    if (storeId >= SCRATCH_ID_BASE) return this.scratch.read(storeId);
    const seg = this.segmentOf(storeId);
    const slot = seg === null ? -1 : seg.slotOf(storeId);
    if (seg === null || slot < 0) throw new Error(`readBody: storeId ${storeId} is not in the store`);
    const offset = seg.offsets[slot]!;
    const rec = seg.read(offset, seg.recordLength(slot));
    const len = rec.readUInt32LE(0);
    if (8 + len !== rec.length || crc32(rec.subarray(8)) !== rec.readUInt32LE(4)) {
      throw new Error(`readBody: record ${storeId} in ${seg.path}@${offset} failed its CRC check`);
    }
    const l = parseMessage(rec, 8, rec.length);
    return rec.subarray(l.bodyStart, l.bodyEnd);
  }

  pageOut(msg: StorableMessage, holders = 1): void {
    this.assertOpen();
    if (msg.storeId !== 0 || msg.body === null) return; // already on disk (durable or paged)
    const id = this.scratch.write(msg.body, holders);
    msg.storeId = id;
    msg.body = null;
    this.diskWrites++;
    this.wrote(msg.bodySize);
  }

  retainPaged(storeId: number): void {
    if (storeId >= SCRATCH_ID_BASE) this.scratch.retain(storeId);
  }

  releasePaged(storeId: number): void {
    if (this.closed || storeId < SCRATCH_ID_BASE) return;
    this.scratch.release(storeId);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let err: unknown = null;
    try {
      await this.gc.close();
    } catch (e) {
      err = e;
    }
    for (const s of this.segments) s.closeFiles();
    this.qdelete?.closeWhenIdle();
    this.scratch.close();
    if (err !== null) throw err;
  }

  stats(): SegmentStoreStats {
    let bytes = 0;
    let indexBytes = 0;
    for (const s of this.segments) {
      bytes += s.end + (s.acks !== null ? s.acks.end : s.ackSize);
      indexBytes += s.indexBytes;
    }
    for (const q of this.queues.values()) indexBytes += q.memoryBytes;
    return {
      messages: this.liveMessages,
      bytes,
      segments: this.segments.length,
      pagedMessages: this.scratch.paged,
      scratchBytes: this.scratch.bytes,
      writes: this.counters.writes,
      fsyncs: this.counters.fsyncs,
      syncBatches: this.counters.syncBatches,
      indexBytes,
      recoveryMs: this.recoveryMs,
      corruptRecords: this.corruptRecords,
      diskWrites: this.diskWrites,
      diskReads: this.diskReads,
    };
  }

  // ---- internals ------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw new Error("store is closed");
  }

  /** Account for bytes just buffered; flush early when a turn buffers a lot. */
  private wrote(n: number): void {
    this.pendingBytes += n;
    if (this.pendingBytes >= FLUSH_THRESHOLD) {
      const err = this.flushAll();
      if (err !== null) this.lastWriteError = err;
    }
    this.gc.scheduleFlush();
  }

  /** The segment to append a record of `size` bytes to, rolling over when full. */
  private writableSegment(size: number): Segment {
    const cur = this.current;
    if (cur !== null && (cur.count === 0 || cur.end + size <= this.segmentSize)) return cur;
    let next: Segment;
    try {
      next = this.createSegment();
    } catch (e) {
      // cannot create a file (inodes exhausted, EMFILE): keep growing the old one rather than crash
      if (cur === null) throw e;
      this.log(`store: cannot create a new segment (${(e as Error).message}); appending to ${cur.path}`);
      return cur;
    }
    if (cur !== null) this.closeCurrent(cur);
    this.segments.push(next);
    this.current = next;
    return next;
  }

  private createSegment(): Segment {
    const seg = new Segment(this.opts.dir, this.nextSegmentNum, this.nextId);
    seg.file = AppendFile.create(seg.path, fileHeader(MAGIC_SEGMENT), this.io, this.counters);
    this.nextSegmentNum++;
    return seg;
  }

  /** Seal the current segment: written and made durable now (once per segmentSize), deleted if already dead. */
  private closeCurrent(seg: Segment): void {
    this.current = null;
    seg.seal();
    const err = this.syncFileNow(seg.file!);
    // on failure the data stays pending: flushAll() keeps retrying every segment file with pending bytes
    if (err !== null) this.lastWriteError = err;
    if (seg.live === 0) this.deleteSegment(seg);
  }

  /** Drop one reference of `id`; returns true when that deleted the segment. */
  private release(seg: Segment, id: number): boolean {
    const slot = seg.slotOf(id);
    if (slot < 0 || seg.refs[slot] === 0) return false;
    if (--seg.refs[slot]! > 0) return false;
    seg.live--;
    this.liveMessages--;
    if (seg.live === 0 && seg !== this.current) {
      this.deleteSegment(seg);
      return true;
    }
    return false;
  }

  private deleteSegment(seg: Segment): void {
    this.makeRemovalsDurable();
    const i = this.segments.indexOf(seg);
    if (i >= 0) this.segments.splice(i, 1);
    seg.file?.discardPending();
    seg.acks?.discardPending();
    seg.closeFiles();
    try {
      fs.rmSync(seg.path, { force: true });
      if (this.opts.fsync !== "none") fsyncDir(this.opts.dir);
      fs.rmSync(seg.ackPath, { force: true });
    } catch (e) {
      this.log(`store: could not delete ${seg.path}: ${(e as Error).message}`);
    }
  }

  /** QDELETE records must be on disk before a segment they emptied disappears. */
  private makeRemovalsDurable(): void {
    const f = this.qdelete;
    if (f === null || (!f.hasPending && f.written === f.synced)) return;
    const err = this.syncFileNow(f);
    if (err !== null) this.lastWriteError = err;
  }

  /** Flush and (unless policy "none") fdatasync one file right now, its directory entry first if new. */
  private syncFileNow(f: AppendFile): Error | null {
    try {
      f.flush();
    } catch (e) {
      return e as Error; // stays pending, retried by the next flush
    }
    if (this.opts.fsync === "none" || f.written === f.synced) return null;
    try {
      if (f.needsDirSync) {
        fsyncDir(this.opts.dir);
        f.needsDirSync = false;
      }
      this.io.fdatasyncSync(f.fd);
      this.counters.fsyncs++;
      f.synced = f.written;
      return null;
    } catch (e) {
      this.gc.poison(e as Error); // same rule as the group commit: no confirm after a failed fsync
      return e as Error;
    }
  }

  private ackFileOf(seg: Segment): AppendFile | null {
    try {
      return seg.ackFile(this.io, this.counters);
    } catch (e) {
      this.log(`store: cannot open ${seg.ackPath}: ${(e as Error).message}`);
      return null;
    }
  }

  private qdeleteFile(): AppendFile {
    if (this.qdelete === null) {
      const path = join(this.opts.dir, QDELETE_FILE);
      if (fs.existsSync(path)) {
        const size = fs.statSync(path).size;
        const head = Buffer.alloc(FILE_HEADER_SIZE);
        const fd = fs.openSync(path, "r");
        fs.readSync(fd, head, 0, FILE_HEADER_SIZE, 0);
        fs.closeSync(fd);
        checkFileHeader(head, MAGIC_QDELETE, path);
        this.qdelete = AppendFile.openExisting(path, size, this.io, this.counters);
      } else {
        this.qdelete = AppendFile.create(path, fileHeader(MAGIC_QDELETE), this.io, this.counters);
      }
      this.qdelete.lazySync = true;
    }
    return this.qdelete;
  }

  /** Binary search: segments are sorted by firstId and their id ranges do not overlap. */
  private segmentOf(id: number): Segment | null {
    const segs = this.segments;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const s = segs[mid]!;
      if (id < s.firstId) hi = mid - 1;
      else if (id > s.lastId) lo = mid + 1;
      else return s;
    }
    return null;
  }

  private *openFiles(): Generator<AppendFile> {
    for (const s of this.segments) {
      if (s.file !== null) yield s.file;
      if (s.acks !== null) yield s.acks;
    }
    if (this.qdelete !== null) yield this.qdelete;
  }

  /** One write per file with pending bytes. Returns the first error (others are still attempted). */
  private flushAll(): Error | null {
    let err: Error | null = null;
    for (const f of this.openFiles()) {
      if (!f.hasPending || f.isClosed) continue;
      try {
        f.flush();
      } catch (e) {
        err ??= e as Error;
      }
    }
    for (const f of this.scratch.openFiles()) {
      try {
        f.flush();
      } catch (e) {
        // scratch bodies stay in memory until the disk recovers; nothing waits on them
        this.lastWriteError = e as Error;
      }
    }
    if (err !== null) {
      if (this.lastWriteError === null) this.log(`store: write failed (${(err as NodeJS.ErrnoException).code ?? err.message}); data kept in memory, will retry`);
      this.lastWriteError = err;
    } else {
      if (this.lastWriteError !== null) this.log("store: writes succeed again");
      this.lastWriteError = null;
      this.pendingBytes = 0;
    }
    return err;
  }

  private unsyncedFiles(all: boolean): AppendFile[] {
    const out: AppendFile[] = [];
    for (const f of this.openFiles()) if (!f.isClosed && f.written > f.synced && (all || !f.lazySync)) out.push(f);
    return out;
  }
}

/**
 * Test hook: WARREN_TEST_SEGMENT_BYTES makes a broker child process roll small
 * segments, so crash tests exercise rollover and segment deletion. Not a setting.
 */
function testSegmentSize(): number | undefined {
  const v = Number(process.env.WARREN_TEST_SEGMENT_BYTES);
  return Number.isInteger(v) && v >= 4096 ? v : undefined;
}

function uniqueKeys(keys: readonly string[]): readonly string[] {
  if (keys.length < 2) return keys;
  return new Set(keys).size === keys.length ? keys : [...new Set(keys)];
}
