/**
 * Group commit: turns many sync(cb) requests into one write per file per
 * event-loop turn and (under "always") one fdatasync per dirty file per batch.
 *
 * Owns: the waiting callbacks, the fsync-in-flight flag, the interval timer and
 * the sticky fsync error. Does not own the files (a SyncSource lists them).
 *
 * Invariants:
 *  - A callback is served only after the data submitted before it was handed to
 *    the OS (interval/none) or after an fdatasync that STARTED after that data was
 *    written (always). Requests arriving while an fdatasync is in flight wait for
 *    the next one: everything that arrived meanwhile shares it. Files marked
 *    lazySync (removal logs) are left to the timer: acks need no confirm.
 *  - The flush runs from setImmediate, so all persist()/sync() calls of the same
 *    event-loop turn share one write syscall per file.
 *  - A write error fails the waiting callbacks and keeps the data pending (the
 *    next flush retries it). Callbacks are answered in request order, failures too: a
 *    failure waits for the answer of an fdatasync in flight for earlier requests. An fdatasync error is sticky: after it, the page cache
 *    may have dropped the dirty pages ("fsyncgate"), so nothing is confirmed any
 *    more until the store is reopened and recovery re-reads what is really on disk.
 */
import { dirname } from "node:path";
import type { AppendFile } from "./append-file.js";
import { fsyncDir, type IoCounters, type StoreIo } from "./io.js";
import type { FsyncPolicy } from "./types.js";

export type SyncCallback = (err?: Error) => void;

export interface SyncSource {
  /** Hand every file's pending bytes to the OS (one write per file). Returns the first error. */
  flushAll(): Error | null;
  /** Files whose written bytes are not yet known durable (noSync files excluded; lazySync ones only when `all`). */
  unsyncedFiles(all: boolean): AppendFile[];
}

export class GroupCommit {
  private waiting: SyncCallback[] = [];
  /** failed batches held back until the fdatasync in flight (of earlier requests) is answered */
  private failedBehind: { cbs: SyncCallback[]; err: Error }[] = [];
  private scheduled = false;
  private inFlight = false;
  private fatal: Error | null = null;
  private idleWaiters: (() => void)[] = [];
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly policy: FsyncPolicy,
    intervalMs: number,
    private readonly source: SyncSource,
    private readonly io: StoreIo,
    private readonly counters: IoCounters,
    private readonly log: (line: string) => void,
  ) {
    // "interval": the only fsyncs; "always": fsyncs the lazily synced removal logs
    if (policy !== "none") {
      this.timer = setInterval(() => {
        if (!this.inFlight && this.fatal === null) this.startSync([], true);
      }, intervalMs);
      this.timer.unref();
    }
  }

  get failed(): Error | null {
    return this.fatal;
  }

  requestSync(cb: SyncCallback): void {
    this.waiting.push(cb);
    this.scheduleFlush();
  }

  /** Make sure pending bytes reach the OS at the end of this turn even if nobody asks for a sync. */
  scheduleFlush(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.tick);
  }

  private readonly tick = (): void => {
    this.scheduled = false;
    if (this.stopped) return;
    const err = this.source.flushAll() ?? this.fatal;
    if (err !== null) return this.fail(this.waiting.splice(0), err);
    if (this.policy !== "always") return this.serve(this.waiting.splice(0), undefined);
    if (!this.inFlight && this.waiting.length > 0) this.startSync(this.waiting.splice(0), false);
  };

  private startSync(cbs: SyncCallback[], all: boolean): void {
    const files = this.source.unsyncedFiles(all);
    if (files.length === 0) return this.serve(cbs, undefined);
    this.inFlight = true;
    this.counters.syncBatches++;
    let left = files.length;
    let firstErr: Error | null = null;
    const done = (f: AppendFile, target: number, err: Error | null): void => {
      f.inFlight--;
      if (err !== null) firstErr ??= err;
      else if (target > f.synced) f.synced = target;
      f.syncDone();
      if (--left === 0) this.syncFinished(cbs, firstErr);
    };
    for (const f of files) {
      const target = f.written;
      f.inFlight++;
      this.counters.fsyncs++;
      try {
        if (f.needsDirSync) {
          fsyncDir(dirname(f.path));
          f.needsDirSync = false;
        }
        this.io.fdatasync(f.fd, (err) => done(f, target, err));
      } catch (e) {
        done(f, target, e as Error);
      }
    }
  }

  /** An fdatasync failed (here or in the owner's synchronous path): refuse every later confirm. */
  poison(err: Error): void {
    if (this.fatal !== null) return;
    this.fatal = err;
    this.log(`store: fdatasync failed (${(err as NodeJS.ErrnoException).code ?? err.message}); no further confirms until restart`);
  }

  /**
   * Callbacks are answered in request order, failures included: a channel nacks with
   * multiple=true up to the failed publish, which would also cover earlier publishes whose
   * fdatasync is still in flight and that are then stored after all (a nack means "not taken").
   */
  private fail(cbs: SyncCallback[], err: Error): void {
    if (this.inFlight) this.failedBehind.push({ cbs, err });
    else this.serve(cbs, err);
  }

  private syncFinished(cbs: SyncCallback[], err: Error | null): void {
    this.inFlight = false;
    if (err !== null) this.poison(err);
    this.serve(cbs, err ?? undefined);
    for (const f of this.failedBehind.splice(0)) this.serve(f.cbs, f.err);
    for (const w of this.idleWaiters.splice(0)) w();
    if (this.waiting.length > 0) this.scheduleFlush();
  }

  private serve(cbs: SyncCallback[], err: Error | undefined): void {
    for (const cb of cbs) {
      try {
        cb(err);
      } catch (e) {
        // a throwing callback is the caller's bug: surface it, but serve the others first
        process.nextTick(() => {
          throw e;
        });
      }
    }
  }

  /** Stop the timer, wait for an fdatasync in flight, flush and fdatasync everything (any policy). */
  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    while (this.inFlight) await new Promise<void>((r) => this.idleWaiters.push(r));
    this.stopped = true;
    let err = this.source.flushAll();
    if (err === null && this.fatal !== null) err = this.fatal;
    if (err === null) {
      try {
        for (const f of this.source.unsyncedFiles(true)) {
          if (f.needsDirSync) fsyncDir(dirname(f.path));
          this.io.fdatasyncSync(f.fd);
          this.counters.fsyncs++;
          f.synced = f.written;
        }
      } catch (e) {
        err = e as Error;
      }
    }
    this.serve(this.waiting.splice(0), err ?? undefined);
    if (err !== null) throw err;
  }
}
