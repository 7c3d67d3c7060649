/**
 * The ready (not yet delivered) messages of a queue. FIFO by default; with
 * x-max-priority one FIFO (head and compact tail) per priority level, highest served first. Requeued
 * entries go back to their original position (by seq), as RabbitMQ does.
 * Each list counts its bytes, paged and persistent messages as entries come and go, so the
 * management API never walks a backlog to describe it.
 */
import { Deque } from "../lib/deque.js";
import type { QueueEntry } from "./message.js";
import { PagedTail } from "./paged-tail.js";

/**
 * Bytes of message bodies held in memory by ready lists across the whole broker.
 * Queues page newly enqueued bodies to disk once this passes the budget, so a
 * backlog anywhere is bounded by one broker-wide figure, not per queue.
 */
export const resident = { bytes: 0, budget: 256 * 1024 * 1024 };

function enter(e: QueueEntry): void {
  e.resident = e.msg.body !== null;
  if (e.resident) resident.bytes += e.msg.bodySize;
}

function leave(e: QueueEntry): void {
  if (e.resident) {
    resident.bytes -= e.msg.bodySize;
    e.resident = false;
  }
}

export interface ReadyList {
  readonly length: number;
  /** total body bytes of ready messages */
  readonly bytes: number;
  /** ready messages whose body is on disk (paged out or left there at recovery), and their bytes */
  readonly paged: number;
  readonly pagedBytes: number;
  /** ready messages with delivery mode 2, and their bytes */
  readonly persistent: number;
  readonly persistentBytes: number;
  /** entries held as compact records (paged-tail.ts) */
  readonly encoded: number;
  /**
   * Append. `encode`: the entry's body is on disk under a store reference of this queue's own,
   * so a FIFO list may keep it as a compact record instead of the objects (paged-tail.ts).
   */
  push(e: QueueEntry, encode?: boolean): void;
  shift(): QueueEntry | undefined;
  peek(): QueueEntry | undefined;
  /** put back a requeued entry at its original position */
  requeue(e: QueueEntry): void;
  /** Remove everything, handing each entry to `visit` (one at a time); returns how many. */
  clear(visit: (e: QueueEntry) => void): number;
  /**
   * Remove the entries whose store id is in `ids`, looking back from the newest entry only as
   * far as entries stored from `minId` on (ids grow with publish order, so older entries cannot
   * be among them). Returns the removed entries. Rare path: publishes whose write failed.
   */
  withdraw(ids: ReadonlySet<number>, minId: number): QueueEntry[];
}

/** May an entry stored under `id` be among the withdrawn ones (or lie after one)? */
function inWithdrawRange(e: QueueEntry, minId: number): boolean {
  const id = e.msg.storeId;
  return id === 0 || id >= minId;
}

/** What every list counts, entry by entry (paged, persistent). */
class Counts {
  bytes = 0;
  paged = 0;
  pagedBytes = 0;
  persistent = 0;
  persistentBytes = 0;
  // paged = not resident when it entered: a Message shared with another queue can get its
  // body read back while this entry still waits, so the body itself is not a stable mark
  protected add(e: QueueEntry): void {
    const m = e.msg;
    enter(e);
    this.bytes += m.bodySize;
    if (!e.resident) {
      this.paged++;
      this.pagedBytes += m.bodySize;
    }
    if (m.properties.deliveryMode === 2) {
      this.persistent++;
      this.persistentBytes += m.bodySize;
    }
  }
  protected remove(e: QueueEntry): void {
    const m = e.msg;
    this.bytes -= m.bodySize;
    if (!e.resident) {
      this.paged--;
      this.pagedBytes -= m.bodySize;
    }
    if (m.properties.deliveryMode === 2) {
      this.persistent--;
      this.persistentBytes -= m.bodySize;
    }
    leave(e);
  }
}

function insertBySeq(d: Deque<QueueEntry>, e: QueueEntry): void {
  // common case: requeue of the oldest message goes to the front
  const first = d.peek();
  if (!first || e.seq < first.seq) return d.unshift(e);
  const last = d.peekLast()!;
  if (e.seq > last.seq) return d.push(e);
  let lo = 0;
  let hi = d.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (d.get(mid)!.seq < e.seq) lo = mid + 1;
    else hi = mid;
  }
  d.insertAt(lo, e);
}

/**
 * Publish order. An in-memory head of entry objects, then — once bodies start going to disk —
 * a compact tail (paged-tail.ts) that takes every later push, so order is kept: every entry
 * in the head is older than every entry in the tail, and requeues go back into the head.
 */
export class FifoReadyList extends Counts implements ReadyList {
  private readonly d = new Deque<QueueEntry>();
  private readonly tail = new PagedTail();
  get length(): number {
    return this.d.length + this.tail.length;
  }
  /** entries held as compact records */
  get encoded(): number {
    return this.tail.encoded;
  }
  push(e: QueueEntry, encode = false): void {
    this.add(e);
    if (encode || this.tail.length > 0) {
      // an encoded entry's object is dropped: it was never counted resident (body on disk)
      this.tail.push(e, encode);
    } else {
      this.d.push(e);
    }
  }
  shift(): QueueEntry | undefined {
    const e = this.d.length > 0 ? this.d.shift() : this.tail.shift();
    if (e) this.remove(e);
    return e;
  }
  peek(): QueueEntry | undefined {
    return this.d.length > 0 ? this.d.peek() : this.tail.peek();
  }
  requeue(e: QueueEntry): void {
    insertBySeq(this.d, e);
    this.add(e);
  }
  withdraw(ids: ReadonlySet<number>, minId: number): QueueEntry[] {
    // pop from the back (the compact tail holds the newest, then the head) down to the first
    // entry older than minId, then push back, oldest first, all but the withdrawn
    const back: { entry: QueueEntry; encoded: boolean }[] = [];
    let older = false;
    while (!older && this.tail.length > 0) {
      const r = this.tail.pop()!;
      this.remove(r.entry);
      back.push(r);
      older = !inWithdrawRange(r.entry, minId);
    }
    while (!older && this.d.length > 0) {
      const e = this.d.pop()!;
      this.remove(e);
      back.push({ entry: e, encoded: false });
      older = !inWithdrawRange(e, minId);
    }
    const removed: QueueEntry[] = [];
    for (let i = back.length - 1; i >= 0; i--) {
      const r = back[i]!;
      if (ids.has(r.entry.msg.storeId)) removed.push(r.entry);
      else this.push(r.entry, r.encoded);
    }
    return removed;
  }
  clear(visit: (e: QueueEntry) => void): number {
    const n = this.length;
    for (const e of this.d.clear()) {
      this.remove(e);
      visit(e);
    }
    this.tail.clear((e) => {
      this.remove(e);
      visit(e);
    });
    return n;
  }
}

/**
 * x-max-priority: one FIFO list per level (each with its own compact tail, so a priority queue's
 * backlog costs what a plain queue's does), highest level served first. Length and bytes are
 * kept here (read on every publish); the other counts are summed over the levels when asked.
 */
export class PriorityReadyList implements ReadyList {
  private readonly levels: FifoReadyList[];
  private len = 0;
  private totalBytes = 0;
  constructor(readonly maxPriority: number) {
    this.levels = [];
    for (let i = 0; i <= maxPriority; i++) this.levels.push(new FifoReadyList());
  }
  get length(): number {
    return this.len;
  }
  get bytes(): number {
    return this.totalBytes;
  }
  get paged(): number {
    return this.sum((l) => l.paged);
  }
  get pagedBytes(): number {
    return this.sum((l) => l.pagedBytes);
  }
  get persistent(): number {
    return this.sum((l) => l.persistent);
  }
  get persistentBytes(): number {
    return this.sum((l) => l.persistentBytes);
  }
  get encoded(): number {
    return this.sum((l) => l.encoded);
  }
  private sum(f: (l: FifoReadyList) => number): number {
    let n = 0;
    for (const l of this.levels) n += f(l);
    return n;
  }
  private level(e: QueueEntry): FifoReadyList {
    const p = e.msg.properties.priority ?? 0;
    return this.levels[Math.min(Math.max(p, 0), this.maxPriority)]!;
  }
  push(e: QueueEntry, encode = false): void {
    this.level(e).push(e, encode);
    this.len++;
    this.totalBytes += e.msg.bodySize;
  }
  shift(): QueueEntry | undefined {
    for (let i = this.maxPriority; i >= 0; i--) {
      const e = this.levels[i]!.shift();
      if (e) {
        this.len--;
        this.totalBytes -= e.msg.bodySize;
        return e;
      }
    }
    return undefined;
  }
  peek(): QueueEntry | undefined {
    for (let i = this.maxPriority; i >= 0; i--) {
      const e = this.levels[i]!.peek();
      if (e) return e;
    }
    return undefined;
  }
  requeue(e: QueueEntry): void {
    this.level(e).requeue(e);
    this.len++;
    this.totalBytes += e.msg.bodySize;
  }
  withdraw(ids: ReadonlySet<number>, minId: number): QueueEntry[] {
    const removed: QueueEntry[] = [];
    for (const level of this.levels) {
      if (level.length === 0) continue;
      for (const e of level.withdraw(ids, minId)) {
        this.len--;
        this.totalBytes -= e.msg.bodySize;
        removed.push(e);
      }
    }
    return removed;
  }
  clear(visit: (e: QueueEntry) => void): number {
    const n = this.len;
    for (let i = this.maxPriority; i >= 0; i--) this.levels[i]!.clear(visit);
    this.len = 0;
    this.totalBytes = 0;
    return n;
  }
}
