/**
 * The ready (not yet delivered) messages of a queue. FIFO by default; with
 * x-max-priority one FIFO per priority level, highest served first. Requeued
 * entries go back to their original position (by seq), as RabbitMQ does.
 */
import { Deque } from "../lib/deque.js";
import type { QueueEntry } from "./message.js";

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
  push(e: QueueEntry): void;
  shift(): QueueEntry | undefined;
  peek(): QueueEntry | undefined;
  /** put back a requeued entry at its original position */
  requeue(e: QueueEntry): void;
  clear(): QueueEntry[];
  toArray(): QueueEntry[];
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

export class FifoReadyList implements ReadyList {
  private readonly d = new Deque<QueueEntry>();
  bytes = 0;
  get length(): number { return this.d.length; }
  push(e: QueueEntry): void { this.d.push(e); this.bytes += e.msg.bodySize; enter(e); }
  shift(): QueueEntry | undefined {
    const e = this.d.shift();
    if (e) { this.bytes -= e.msg.bodySize; leave(e); }
    return e;
  }
  peek(): QueueEntry | undefined { return this.d.peek(); }
  requeue(e: QueueEntry): void { insertBySeq(this.d, e); this.bytes += e.msg.bodySize; enter(e); }
  clear(): QueueEntry[] { this.bytes = 0; const all = this.d.clear(); for (const e of all) leave(e); return all; }
  toArray(): QueueEntry[] { return this.d.toArray(); }
}

export class PriorityReadyList implements ReadyList {
  private readonly levels: Deque<QueueEntry>[];
  private len = 0;
  bytes = 0;
  constructor(readonly maxPriority: number) {
    this.levels = [];
    for (let i = 0; i <= maxPriority; i++) this.levels.push(new Deque<QueueEntry>(1));
  }
  get length(): number { return this.len; }
  private level(e: QueueEntry): Deque<QueueEntry> {
    const p = e.msg.properties.priority ?? 0;
    return this.levels[Math.min(Math.max(p, 0), this.maxPriority)]!;
  }
  push(e: QueueEntry): void { this.level(e).push(e); this.len++; this.bytes += e.msg.bodySize; enter(e); }
  shift(): QueueEntry | undefined {
    for (let i = this.maxPriority; i >= 0; i--) {
      const e = this.levels[i]!.shift();
      if (e) { this.len--; this.bytes -= e.msg.bodySize; leave(e); return e; }
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
  requeue(e: QueueEntry): void { insertBySeq(this.level(e), e); this.len++; this.bytes += e.msg.bodySize; enter(e); }
  clear(): QueueEntry[] {
    const out = this.toArray();
    for (const e of out) leave(e);
    for (const l of this.levels) l.clear();
    this.len = 0;
    this.bytes = 0;
    return out;
  }
  toArray(): QueueEntry[] {
    const out: QueueEntry[] = [];
    for (let i = this.maxPriority; i >= 0; i--) out.push(...this.levels[i]!.toArray());
    return out;
  }
}
