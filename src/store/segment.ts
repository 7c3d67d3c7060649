/**
 * One segment file of the message log and its in-memory index.
 *
 * Owns: the file names (<n>.wseg, <n>.wack), the fds (opened lazily for
 * recovered segments), and a compact index of the MESSAGE records it holds:
 * storeIds in a segment are contiguous (firstId .. firstId+count-1, assigned in
 * write order), so the index is two typed arrays addressed by id - firstId:
 *   offsets[i] (u32, file offset of the record; 0 = no record: skipped on recovery)
 *   refs[i]    (u32, queues still referencing it)
 * i.e. 8 bytes per message. `live` counts slots with refs > 0.
 *
 * Invariant: the acks of this segment's messages live in its own .wack file and
 * nowhere else, so deleting a dead segment (then its .wack) can never lose a
 * removal that another segment needs.
 */
import * as fs from "node:fs";
import { join } from "node:path";
import { AppendFile } from "./append-file.js";
import type { IoCounters, StoreIo } from "./io.js";
import { fileHeader, MAGIC_ACKS } from "./record.js";

export function segmentName(num: number): string {
  return String(num).padStart(10, "0");
}

export class Segment {
  offsets: Uint32Array;
  refs: Uint32Array;
  count = 0;
  live = 0;
  /** the message file: open for append while current, opened read-only on demand after recovery */
  file: AppendFile | null = null;
  acks: AppendFile | null = null;
  /** size of the .wseg on disk for recovered segments (file === null) */
  size = 0;
  ackSize = 0;
  private readFd: number | null = null;

  constructor(
    readonly dir: string,
    readonly num: number,
    public firstId: number,
    capacity = 1024,
  ) {
    this.offsets = new Uint32Array(capacity);
    this.refs = new Uint32Array(capacity);
  }

  get path(): string {
    return join(this.dir, segmentName(this.num) + ".wseg");
  }

  get ackPath(): string {
    return join(this.dir, segmentName(this.num) + ".wack");
  }

  get end(): number {
    return this.file !== null ? this.file.end : this.size;
  }

  get lastId(): number {
    return this.firstId + this.count - 1;
  }

  /** Record storeId `id` at file offset `offset` with `refs` references (id must be lastId+1 or later). */
  add(id: number, offset: number, refs: number): void {
    const slot = id - this.firstId;
    if (slot >= this.offsets.length) this.grow(slot + 1);
    this.offsets[slot] = offset;
    this.refs[slot] = refs;
    this.count = slot + 1;
    if (refs > 0) this.live++;
  }

  /** Trim the index arrays to their used length once no more records are added. */
  seal(): void {
    if (this.offsets.length === this.count) return;
    this.offsets = this.offsets.slice(0, this.count);
    this.refs = this.refs.slice(0, this.count);
  }

  slotOf(id: number): number {
    const slot = id - this.firstId;
    return slot >= 0 && slot < this.count && this.offsets[slot] !== 0 ? slot : -1;
  }

  /** Byte length of the record in `slot`: up to the next record, or to the end of the file. */
  recordLength(slot: number): number {
    const off = this.offsets[slot]!;
    for (let s = slot + 1; s < this.count; s++) {
      const next = this.offsets[s]!;
      if (next !== 0) return next - off;
    }
    return this.end - off;
  }

  read(offset: number, len: number): Buffer {
    if (this.file !== null) return this.file.read(offset, len);
    if (this.readFd === null) this.readFd = fs.openSync(this.path, "r");
    const out = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const n = fs.readSync(this.readFd, out, got, len - got, offset + got);
      if (n === 0) throw new Error(`unexpected end of ${this.path}`);
      got += n;
    }
    return out;
  }

  /** The ack file, created on first use. */
  ackFile(io: StoreIo, counters: IoCounters): AppendFile {
    if (this.acks === null) {
      this.acks = fs.existsSync(this.ackPath) ? AppendFile.openExisting(this.ackPath, this.ackSize, io, counters) : AppendFile.create(this.ackPath, fileHeader(MAGIC_ACKS), io, counters);
      this.acks.lazySync = true;
    }
    return this.acks;
  }

  get indexBytes(): number {
    return this.offsets.byteLength + this.refs.byteLength;
  }

  /** Close fds (deferred while an fdatasync is in flight). */
  closeFiles(): void {
    this.file?.closeWhenIdle();
    this.acks?.closeWhenIdle();
    if (this.readFd !== null) fs.closeSync(this.readFd);
    this.readFd = null;
  }

  private grow(min: number): void {
    let cap = this.offsets.length * 2;
    while (cap < min) cap *= 2;
    const o = new Uint32Array(cap);
    o.set(this.offsets.subarray(0, this.count));
    const r = new Uint32Array(cap);
    r.set(this.refs.subarray(0, this.count));
    this.offsets = o;
    this.refs = r;
  }
}
