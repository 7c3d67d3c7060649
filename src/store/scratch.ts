/**
 * Scratch space for paging transient message bodies out of memory.
 *
 * Owns: <dir>/scratch/*.wscr files — raw bodies back to back, no headers, no
 * CRC, never fsynced, never recovered (the directory is emptied at open). Ids
 * are SCRATCH_ID_BASE + sequence, above every durable storeId (48 bits), so
 * readBody() can tell them apart; ids in one file are contiguous, so the index
 * is typed arrays as in segment.ts (offset u32 + length u32 + reference count u32).
 *
 * A body is written once however many queues hold it (a fanout): its reference count is the
 * number of holders (write/retain add, release takes one away), and it is gone at zero.
 *
 * Invariant: a scratch file is deleted as soon as it is not the file being
 * written and all its bodies were released.
 */
import * as fs from "node:fs";
import { join } from "node:path";
import { AppendFile } from "./append-file.js";
import type { IoCounters, StoreIo } from "./io.js";
import { PAGED_ID_BASE } from "./types.js";

/** the store's contract (types.ts) fixes where paged ids start */
export const SCRATCH_ID_BASE = PAGED_ID_BASE;

class ScratchFile {
  offsets = new Uint32Array(1024);
  lengths = new Uint32Array(1024);
  /** holders of each body; 0 = released */
  refs = new Uint32Array(1024);
  count = 0;
  live = 0;
  constructor(
    readonly file: AppendFile,
    readonly firstSeq: number,
  ) {}

  add(offset: number, len: number, refs: number): void {
    if (this.count === this.offsets.length) {
      const grow = (a: Uint32Array): Uint32Array => {
        const b = new Uint32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.offsets = grow(this.offsets);
      this.lengths = grow(this.lengths);
      this.refs = grow(this.refs);
    }
    this.offsets[this.count] = offset;
    this.lengths[this.count] = len;
    this.refs[this.count] = refs;
    this.count++;
    this.live++;
  }
}

export class ScratchSpace {
  private files: ScratchFile[] = [];
  private current: ScratchFile | null = null;
  /** rolled-over files whose last bytes are not flushed yet */
  private rolled: AppendFile[] = [];
  private nextFileNum = 1;
  paged = 0;

  constructor(
    readonly dir: string,
    private readonly fileSize: number,
    private readonly io: StoreIo,
    private readonly counters: IoCounters,
  ) {
    // scratch data never outlives the process that wrote it
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
  }

  /** Append `body` for `refs` holders (at least 1), return its scratch id. */
  write(body: Buffer, refs = 1): number {
    let cur = this.current;
    if (cur === null || (cur.file.end + body.length > this.fileSize && cur.count > 0)) cur = this.roll();
    const off = cur.file.end;
    const r = cur.file.reserve(body.length);
    body.copy(r.buf, r.at);
    cur.add(off, body.length, Math.max(1, refs));
    this.paged++;
    return SCRATCH_ID_BASE + cur.firstSeq + cur.count - 1;
  }

  read(id: number): Buffer {
    const [f, i] = this.locate(id);
    return f.file.read(f.offsets[i]!, f.lengths[i]!);
  }

  /** One more holder of a body still paged out. */
  retain(id: number): void {
    const [f, i] = this.locate(id);
    f.refs[i]!++;
  }

  /** One holder fewer; the body is gone when none is left. */
  release(id: number): void {
    const hit = this.tryLocate(id);
    if (hit === null) return;
    const [f, i] = hit;
    if (f.refs[i] === 0) return;
    if (--f.refs[i]! > 0) return;
    f.live--;
    this.paged--;
    if (f.live === 0 && f !== this.current) this.drop(f);
  }

  /**
   * Files with pending bytes (flushed with the segment files each turn; never fsynced): the one
   * being written and any rolled over with bytes still pending (a roll happens mid-turn; left
   * out, their last bytes stayed in memory for as long as the file lived).
   */
  openFiles(): AppendFile[] {
    const out: AppendFile[] = [];
    if (this.rolled.length > 0) {
      this.rolled = this.rolled.filter((f) => f.hasPending);
      for (const f of this.rolled) out.push(f);
    }
    if (this.current !== null) out.push(this.current.file);
    return out;
  }

  get bytes(): number {
    let n = 0;
    for (const f of this.files) n += f.file.end;
    return n;
  }

  close(): void {
    for (const f of this.files) f.file.closeWhenIdle();
    this.files = [];
    this.current = null;
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private roll(): ScratchFile {
    const prev = this.current;
    const firstSeq = prev === null ? 0 : prev.firstSeq + prev.count;
    const path = join(this.dir, `${String(this.nextFileNum++).padStart(10, "0")}.wscr`);
    const f = new ScratchFile(AppendFile.create(path, Buffer.alloc(0), this.io, this.counters, true), firstSeq);
    this.files.push(f);
    this.current = f;
    if (prev !== null && prev.live === 0) this.drop(prev);
    else if (prev !== null) {
      prev.file.retire();
      if (prev.file.hasPending) this.rolled.push(prev.file);
    }
    return f;
  }

  private drop(f: ScratchFile): void {
    f.file.discardPending();
    f.file.closeWhenIdle();
    fs.rmSync(f.file.path, { force: true });
    this.files.splice(this.files.indexOf(f), 1);
  }

  private tryLocate(id: number): [ScratchFile, number] | null {
    const seq = id - SCRATCH_ID_BASE;
    for (let k = this.files.length - 1; k >= 0; k--) {
      const f = this.files[k]!;
      if (seq >= f.firstSeq) {
        const i = seq - f.firstSeq;
        return i < f.count ? [f, i] : null;
      }
    }
    return null;
  }

  private locate(id: number): [ScratchFile, number] {
    const hit = this.tryLocate(id);
    if (hit === null || hit[0].refs[hit[1]] === 0) throw new Error(`scratch id ${id} is not paged out`);
    return hit;
  }
}
