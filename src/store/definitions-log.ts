/**
 * DefinitionsLog: the durable DefinitionsStore — <dataDir>/definitions.log.
 *
 * Format: one command per line, `<crc32 as 8 hex digits> <JSON>\n`, the CRC
 * taken over the JSON's UTF-8 bytes. JSON.stringify never emits a raw newline,
 * so a line boundary is always a record boundary.
 *
 * Owns: that file, its group-committed appends, compaction (write
 * definitions.log.tmp, fsync, rename over, fsync the directory: a crash leaves
 * either the old or the new log, never a mix) and the data directory's format
 * marker (format-version.ts) checked at open.
 *
 * Recovery: a last line without its newline or with a bad CRC is a torn tail and
 * is truncated away (logged). A bad line followed by good ones (damage, not a
 * crash) is skipped and logged, so one bad sector does not hide every later
 * definition. Never returns a line whose CRC did not match.
 */
import * as fs from "node:fs";
import { join } from "node:path";
import { AppendFile } from "./append-file.js";
import { crc32 } from "./crc32.js";
import { ensureFormatVersion } from "./format-version.js";
import { GroupCommit } from "./group-commit.js";
import { fsyncDir, makeIo, type IoCounters, type StoreIo } from "./io.js";
import type { DefinitionsStore, FsyncPolicy } from "./types.js";

export const DEFINITIONS_FILE = "definitions.log";

export interface DefinitionsLogOptions {
  dataDir: string;
  /** default "always": definitions are few and losing a declare is worse than a slow one */
  fsync?: FsyncPolicy;
  fsyncIntervalMs?: number;
  log?: (line: string) => void;
  io?: Partial<StoreIo>;
}

export class DefinitionsLog implements DefinitionsStore {
  private file: AppendFile;
  /** what load() returns: the log as read at open (dropped after the first load) */
  private entries: Record<string, unknown>[] | null;
  private commands: number;
  private readonly gc: GroupCommit;
  private readonly io: StoreIo;
  private readonly counters: IoCounters = { writes: 0, fsyncs: 0, syncBatches: 0 };
  private readonly path: string;
  private closed = false;

  static open(opts: DefinitionsLogOptions): DefinitionsLog {
    ensureFormatVersion(opts.dataDir);
    return new DefinitionsLog(opts);
  }

  private constructor(private readonly opts: DefinitionsLogOptions) {
    const log = opts.log ?? ((l) => process.stderr.write(l + "\n"));
    this.io = makeIo(opts.io);
    this.path = join(opts.dataDir, DEFINITIONS_FILE);
    fs.rmSync(this.path + ".tmp", { force: true }); // an interrupted compaction
    if (fs.existsSync(this.path)) {
      const r = readLog(this.path, log);
      this.entries = r.entries;
      this.commands = r.entries.length;
      this.file = AppendFile.openExisting(this.path, r.validEnd, this.io, this.counters);
    } else {
      this.entries = [];
      this.commands = 0;
      this.file = AppendFile.create(this.path, Buffer.alloc(0), this.io, this.counters);
    }
    this.gc = new GroupCommit(
      opts.fsync ?? "always",
      opts.fsyncIntervalMs ?? 1000,
      {
        flushAll: () => {
          try {
            this.file.flush();
            return null;
          } catch (e) {
            return e as Error;
          }
        },
        unsyncedFiles: () => (this.file.written > this.file.synced && !this.file.isClosed ? [this.file] : []),
      },
      this.io,
      this.counters,
      log,
    );
  }

  append(cmd: Record<string, unknown>): void {
    if (this.closed) throw new Error("definitions log is closed");
    const line = encodeLine(cmd);
    const r = this.file.reserve(line.length);
    line.copy(r.buf, r.at);
    this.commands++;
    this.gc.scheduleFlush();
  }

  /** The commands read at open; once (boot replays them, then the broker's state is the truth). */
  load(): Record<string, unknown>[] {
    const e = this.entries;
    if (e === null) throw new Error("definitions log: load() is for boot, once");
    this.entries = null;
    return e;
  }

  get count(): number {
    return this.commands;
  }

  compact(cmds: Record<string, unknown>[]): void {
    if (this.closed) throw new Error("definitions log is closed");
    const tmp = this.path + ".tmp";
    const data = Buffer.concat(cmds.map(encodeLine));
    const fd = fs.openSync(tmp, "w");
    try {
      let off = 0;
      while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
      this.io.fdatasyncSync(fd);
    } catch (e) {
      fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      throw e; // the old log is untouched
    }
    fs.closeSync(fd);
    fs.renameSync(tmp, this.path);
    fsyncDir(this.opts.dataDir);
    // the old file's pending appends are superseded by `cmds`
    this.file.discardPending();
    this.file.closeWhenIdle();
    this.file = AppendFile.openExisting(this.path, data.length, this.io, this.counters);
    this.commands = cmds.length;
  }

  sync(cb: (err?: Error) => void): void {
    if (this.closed) {
      setImmediate(() => cb(new Error("definitions log is closed")));
      return;
    }
    this.gc.requestSync(cb);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.gc.close();
    } finally {
      this.file.closeWhenIdle();
    }
  }

  /** fdatasync calls since open (tests check group commit). */
  get fsyncs(): number {
    return this.counters.fsyncs;
  }
}

function encodeLine(cmd: Record<string, unknown>): Buffer {
  const json = Buffer.from(JSON.stringify(cmd), "utf8");
  const line = Buffer.allocUnsafe(9 + json.length + 1);
  line.write(crc32(json).toString(16).padStart(8, "0"), 0, "latin1");
  line[8] = 0x20;
  json.copy(line, 9);
  line[line.length - 1] = 0x0a;
  return line;
}

function readLog(path: string, log: (l: string) => void): { entries: Record<string, unknown>[]; validEnd: number } {
  const buf = fs.readFileSync(path);
  const entries: Record<string, unknown>[] = [];
  let validEnd = 0;
  let skipped = 0;
  let badSinceValid = 0;
  let p = 0;
  while (p < buf.length) {
    const nl = buf.indexOf(0x0a, p);
    if (nl < 0) break; // no newline: torn tail
    const cmd = parseLine(buf, p, nl);
    p = nl + 1;
    if (cmd === null) {
      badSinceValid++;
      continue;
    }
    entries.push(cmd);
    skipped += badSinceValid;
    badSinceValid = 0;
    validEnd = p;
  }
  if (skipped > 0) log(`definitions: ${path}: skipped ${skipped} corrupt line(s)`);
  if (validEnd < buf.length) {
    log(`definitions: ${path}: dropped ${buf.length - validEnd} byte(s) of torn tail`);
    fs.truncateSync(path, validEnd);
  }
  return { entries, validEnd };
}

function parseLine(buf: Buffer, start: number, nl: number): Record<string, unknown> | null {
  if (nl - start < 10 || buf[start + 8] !== 0x20) return null;
  const want = Number.parseInt(buf.toString("latin1", start, start + 8), 16);
  const json = buf.subarray(start + 9, nl);
  if (!Number.isFinite(want) || crc32(json) !== want) return null;
  try {
    const v: unknown = JSON.parse(json.toString("utf8"));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
