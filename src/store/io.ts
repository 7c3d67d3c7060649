/**
 * The few file-system calls whose failures the store must survive, gathered
 * behind one interface so tests can inject ENOSPC/EIO (no other mocking).
 *
 * Owns: StoreIo (positional vectored write, fdatasync async + sync) and the
 * default implementation over node:fs. Every other fs call in src/store is a
 * direct node:fs call (open/unlink/rename happen rarely and fail loudly).
 */
import * as fs from "node:fs";

export interface StoreIo {
  /** Write `bufs` at file offset `pos`; returns bytes written (may be partial). Throws on error. */
  writev(fd: number, bufs: readonly Buffer[], pos: number): number;
  fdatasync(fd: number, cb: (err: Error | null) => void): void;
  fdatasyncSync(fd: number): void;
}

export const nodeIo: StoreIo = {
  writev: (fd, bufs, pos) => fs.writevSync(fd, bufs, pos),
  fdatasync: (fd, cb) => fs.fdatasync(fd, (err) => cb(err ?? null)),
  fdatasyncSync: (fd) => fs.fdatasyncSync(fd),
};

export function makeIo(overrides?: Partial<StoreIo>): StoreIo {
  return { ...nodeIo, ...overrides };
}

/** Counters shared by the store's files; surfaced by stats() (tests assert group commit with them). */
export interface IoCounters {
  writes: number;
  fsyncs: number;
  syncBatches: number;
}

/** fsync a directory so a file creation/rename/unlink inside it is durable. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
