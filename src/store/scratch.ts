/**
 * Scratch space for paging transient message bodies out of memory.
 *
 * Owns: <dir>/scratch/*.wscr files — raw bodies back to back, no headers, no
 * CRC, never fsynced, never recovered (the directory is emptied at open). Ids
 * are SCRATCH_ID_BASE + sequence, above every durable storeId (48 bits), so
 * readBody() can tell them apart; ids in one file are contiguous, so the index
 * is typed arrays as in segment.ts (offset u32 + length u32 + live flag u8).
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
  alive = new Uint8Array(1024);
  count = 0;
  live = 0;
  constructor(
    readonly file: AppendFile,
    readonly firstSeq: number,
  ) {}

  add(offset: number, len: number): void {
    if (this.count === this.offsets.length) {
      const grow = <T extends Uint32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.offsets = grow(this.offsets, (n) => new Uint32Array(n));
      this.lengths = grow(this.lengths, (n) => new Uint32Array(n));
      this.alive = grow(this.alive, (n) => new Uint8Array(n));
    }
    this.offsets[this.count] = offset;
    this.lengths[this.count] = len;
    this.alive[this.count] = 1;
    this.count++;
    this.live++;
  }
}

export class ScratchSpace {
  private files: ScratchFile[] = [];
  private current: ScratchFile | null = null;
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

  /** Append `body`, return its scratch id. */
  write(body: Buffer): number {
    let cur = this.current;
    if (cur === null || (cur.file.end + body.length > this.fileSize && cur.count > 0)) cur = this.roll();
    const off = cur.file.end;
    const r = cur.file.reserve(body.length);
    body.copy(r.buf, r.at);
    cur.add(off, body.length);
    this.paged++;
    return SCRATCH_ID_BASE + cur.firstSeq + cur.count - 1;
  }

  read(id: number): Buffer {
    const [f, i] = this.locate(id);
    return f.file.read(f.offsets[i]!, f.lengths[i]!);
  }

  release(id: number): void {
    const hit = this.tryLocate(id);
    if (hit === null) return;
    const [f, i] = hit;
    if (f.alive[i] === 0) return;
    f.alive[i] = 0;
    f.live--;
    this.paged--;
    if (f.live === 0 && f !== this.current) this.drop(f);
  }

  /** Files with pending bytes (flushed with the segment files each turn; never fsynced). */
  openFiles(): AppendFile[] {
    return this.current !== null ? [this.current.file] : [];
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
    if (hit === null || hit[0].alive[hit[1]] === 0) throw new Error(`scratch id ${id} is not paged out`);
    return hit;
  }
}
