/**
 * An append-only file with an in-memory tail: callers reserve space and encode
 * records straight into a pending block; flush() hands everything pending to the
 * OS with one positional writev (so N appends in an event-loop turn cost one
 * syscall).
 *
 * Owns: the fd, the pending bytes, and three offsets:
 *   synced <= written <= end
 *   - `written`: bytes the OS has (survive kill -9);
 *   - `synced`:  bytes known durable (fdatasync completed);
 *   - `end`:     written + pending (where the next record goes).
 * Does not own: when to flush or fsync (group-commit.ts decides), record formats.
 *
 * Invariants:
 *  - A failed flush changes nothing: pending data stays, `written` stays, and the
 *    retry rewrites from `written` with positional writes, so a partially written
 *    batch is simply overwritten (never duplicated, never leaves a gap).
 *  - read() serves any byte range below `end`, from the OS or from pending memory,
 *    so callers never need to force a flush to read what they just appended.
 *  - The fd is closed only when no fdatasync is in flight on it (closeWhenIdle).
 */
import * as fs from "node:fs";
import type { IoCounters, StoreIo } from "./io.js";

const BLOCK = 256 * 1024;
/** writev takes at most IOV_MAX (1024 on Linux) buffers; stay well below. */
const MAX_IOV = 512;

export class AppendFile {
  written: number;
  synced: number;
  /** fdatasync calls in flight on this fd */
  inFlight = 0;
  /** set when the directory entry must be fsynced before this file's data counts as durable */
  needsDirSync = false;
  /** scratch files are never fsynced */
  readonly noSync: boolean;
  /**
   * Removal logs (ack files): not fsynced on the confirm path, only by the
   * background timer, before a segment unlink and at close. Losing a recent ack
   * on power loss means a redelivery, never a lost message.
   */
  lazySync = false;
  private chunks: Buffer[] = [];
  private block: Buffer | null = null;
  private blockUsed = 0;
  private pendingBytes = 0;
  private closeRequested = false;
  private closed = false;
  /** no more appends expected (a rolled scratch file): the write block is not kept for reuse */
  private retired = false;

  constructor(
    readonly path: string,
    readonly fd: number,
    size: number,
    private readonly io: StoreIo,
    private readonly counters: IoCounters,
    noSync = false,
  ) {
    this.written = size;
    this.synced = size;
    this.noSync = noSync;
  }

  /** Create a new file (must not exist) that starts with `header`. */
  static create(path: string, header: Buffer, io: StoreIo, counters: IoCounters, noSync = false): AppendFile {
    const fd = fs.openSync(path, "wx+");
    const f = new AppendFile(path, fd, 0, io, counters, noSync);
    f.needsDirSync = !noSync;
    const r = f.reserve(header.length);
    header.copy(r.buf, r.at);
    return f;
  }

  /** Open an existing file for reading and appending at `size` (after recovery truncated it). */
  static openExisting(path: string, size: number, io: StoreIo, counters: IoCounters): AppendFile {
    const fd = fs.openSync(path, "r+");
    return new AppendFile(path, fd, size, io, counters);
  }

  get end(): number {
    return this.written + this.pendingBytes;
  }

  get hasPending(): boolean {
    return this.pendingBytes > 0;
  }

  get isClosed(): boolean {
    return this.closed || this.closeRequested;
  }

  /**
   * Reserve `n` bytes at the end of the file; the caller encodes into buf[at, at+n).
   * Returns the buffer and the index in it; the file offset is the `end` before the call.
   */
  reserve(n: number): { buf: Buffer; at: number } {
    if (this.block === null || this.block.length - this.blockUsed < n) {
      this.sealBlock();
      this.block = Buffer.allocUnsafeSlow(Math.max(BLOCK, n));
      this.blockUsed = 0;
    }
    const at = this.blockUsed;
    this.blockUsed += n;
    this.pendingBytes += n;
    return { buf: this.block, at };
  }

  private sealBlock(): void {
    if (this.block !== null && this.blockUsed > 0) this.chunks.push(this.block.subarray(0, this.blockUsed));
    this.block = null;
    this.blockUsed = 0;
  }

  /** Hand pending bytes to the OS. Throws the I/O error (state unchanged) on failure. */
  flush(): void {
    if (this.pendingBytes === 0 || this.closed) return;
    const bufs = this.chunks.slice();
    if (this.block !== null && this.blockUsed > 0) bufs.push(this.block.subarray(0, this.blockUsed));
    let pos = this.written;
    let rest = bufs;
    // loop for partial writes and IOV_MAX; an error leaves this.written untouched
    while (rest.length > 0) {
      const n = this.io.writev(this.fd, rest.slice(0, MAX_IOV), pos);
      this.counters.writes++;
      if (n <= 0) throw Object.assign(new Error(`short write to ${this.path}`), { code: "EIO" });
      pos += n;
      let left = n;
      let k = 0;
      while (k < rest.length && left >= rest[k]!.length) left -= rest[k++]!.length;
      rest = rest.slice(k);
      if (left > 0) rest[0] = rest[0]!.subarray(left);
    }
    this.written = pos;
    this.pendingBytes = 0;
    this.chunks = [];
    // keep the current block for reuse unless it was an oversized one-off or the file is retired
    if (this.block !== null && this.block.length === BLOCK && !this.retired) this.blockUsed = 0;
    else this.block = null;
  }

  /**
   * No more appends are expected: give the write block back after the next flush (now, if
   * nothing is pending), so a file that was rolled over does not keep 256 KiB for reuse.
   * A later reserve() still works; it allocates a block again.
   */
  retire(): void {
    this.retired = true;
    if (this.pendingBytes === 0) this.block = null;
  }

  /** Read [pos, pos+len): from the OS if written, else from pending memory. Records never straddle the two. */
  read(pos: number, len: number): Buffer {
    if (pos + len <= this.written) {
      const out = Buffer.allocUnsafe(len);
      let got = 0;
      while (got < len) {
        const n = fs.readSync(this.fd, out, got, len - got, pos + got);
        if (n === 0) throw new Error(`unexpected end of ${this.path} at ${pos + got}`);
        got += n;
      }
      return out;
    }
    let at = this.written;
    const parts = this.chunks.slice();
    if (this.block !== null && this.blockUsed > 0) parts.push(this.block.subarray(0, this.blockUsed));
    for (const c of parts) {
      if (pos >= at && pos + len <= at + c.length) return Buffer.from(c.subarray(pos - at, pos - at + len));
      at += c.length;
    }
    throw new Error(`range ${pos}+${len} of ${this.path} straddles written/pending data`);
  }

  /** Drop pending data (the file is being deleted or replaced). */
  discardPending(): void {
    this.chunks = [];
    this.block = null;
    this.blockUsed = 0;
    this.pendingBytes = 0;
  }

  /** Close the fd now, or as soon as the fdatasync in flight completes. */
  closeWhenIdle(): void {
    this.closeRequested = true;
    if (this.inFlight === 0) this.closeNow();
  }

  /** Called by the group commit when an fdatasync on this fd completes. */
  syncDone(): void {
    if (this.inFlight === 0 && this.closeRequested) this.closeNow();
  }

  private closeNow(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      fs.closeSync(this.fd);
    } catch {
      /* already closed: nothing to do */
    }
  }
}
