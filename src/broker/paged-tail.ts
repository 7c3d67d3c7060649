/**
 * The compact tail of a FIFO ready list: the part of a backlog whose bodies live on disk, kept
 * as a few numbers per message in typed arrays instead of two JS objects (Message +
 * QueueEntry, ~300 B with the GC's overhead). Per message: store id, expiry, queue position
 * (f64 each), body size and metadata index (u32 each) and delivery count (u8) — 33 bytes in
 * blocks of BLOCK records, so the memory goes back block by block as a backlog drains.
 * Exchange, routing key, properties and BCC keys are kept once per distinct set among the last
 * few pushed (compared by identity: a channel reuses its decoded publish arguments and property
 * sets, the router its BCC-stripped ones), so a flood of alike messages shares one; messages
 * whose properties differ one by one (a message_id each) still save their two objects but keep
 * their properties in memory.
 *
 * Only messages whose body is on disk under a reference of this queue's own are encoded (see
 * Queue.publish): a persistent message in a durable queue (the store counts references per
 * queue) or a paged transient one (the store counts the queues holding the scratch body, so a
 * fanout's body is on disk once and every queue may encode it). Anything else arriving while
 * the tail is non-empty is kept as its object, in order, in a side queue. Shifting materialises
 * the front record back into a Message of its own (body still on disk, read at delivery as for
 * any paged message) and a QueueEntry.
 *
 * Invariants: records leave in the order they came (push back, shift front); every queue
 * position in the tail is above every one in the list's in-memory head (requeues go to the head).
 */
import type { BasicProperties } from "../amqp/properties.js";
import { Deque } from "../lib/deque.js";
import { Message, QueueEntry } from "./message.js";

const BLOCK = 16384;
/** meta index of a record that stands for an object kept as it is */
const OBJECT = 0xffffffff;
/** distinct metadata sets looked up by identity on push (alternating persistent/transient, a few keys) */
const RECENT = 4;

/**
 * One block of records; [start, end) are live. Its columns are views of ONE ArrayBuffer
 * (33 x BLOCK bytes, 528 KiB), so a block is one large allocation: the C allocator serves it
 * with its own mapping and gives it back to the OS when the block drains (several smaller
 * arrays per block stayed in the process heap, fragmenting it, after a big backlog was purged).
 */
class Block {
  readonly storeId: Float64Array;
  readonly expiresAt: Float64Array;
  readonly seq: Float64Array;
  readonly size: Uint32Array;
  readonly meta: Uint32Array;
  readonly deliveries: Uint8Array;
  start = 0;
  end = 0;
  constructor() {
    const buf = new ArrayBuffer(BLOCK * TAIL_BYTES_PER_RECORD);
    let at = 0;
    const f64 = () => {
      const a = new Float64Array(buf, at, BLOCK);
      at += 8 * BLOCK;
      return a;
    };
    const u32 = () => {
      const a = new Uint32Array(buf, at, BLOCK);
      at += 4 * BLOCK;
      return a;
    };
    this.storeId = f64();
    this.expiresAt = f64();
    this.seq = f64();
    this.size = u32();
    this.meta = u32();
    this.deliveries = new Uint8Array(buf, at, BLOCK);
  }
}

/** what encoded records share: exchange, routing key, properties and BCC keys, with how many use them */
interface Meta {
  exchange: string;
  routingKey: string;
  properties: BasicProperties;
  propertiesRaw: Buffer;
  /** BCC routing keys (stripped from the properties; dead-lettering routes with them) */
  bcc: string[] | null;
  refs: number;
}

/** bytes the tail costs per encoded record (for the management API's memory estimate) */
export const TAIL_BYTES_PER_RECORD = 8 * 3 + 4 + 4 + 1;

export class PagedTail {
  private readonly blocks = new Deque<Block>();
  /** entries that could not be encoded, in order (their records say OBJECT) */
  private readonly objects = new Deque<QueueEntry>();
  private readonly metas: (Meta | undefined)[] = [];
  private readonly freeMetas: number[] = [];
  private readonly recent: number[] = [];
  private len = 0;
  /** the front entry, materialised by peek() and handed out by the next shift() */
  private front: QueueEntry | null = null;
  /** records held in encoded form (the rest of `length` are objects) */
  encoded = 0;

  get length(): number {
    return this.len;
  }

  /** Append: encoded when `encode` (body on disk under this queue's own reference), else kept as the object. */
  push(e: QueueEntry, encode: boolean): void {
    let b = this.blocks.peekLast();
    if (b === undefined || b.end === BLOCK) {
      b = new Block();
      this.blocks.push(b);
    }
    const i = b.end++;
    this.len++;
    if (!encode) {
      b.meta[i] = OBJECT;
      this.objects.push(e);
      return;
    }
    const m = e.msg;
    b.meta[i] = this.metaOf(m);
    b.storeId[i] = m.storeId;
    b.expiresAt[i] = e.expiresAt;
    b.seq[i] = e.seq;
    b.size[i] = m.bodySize;
    b.deliveries[i] = Math.min(e.deliveryCount, 255);
    this.encoded++;
  }

  /** The index of a metadata set equal (by identity) to one of the last few, or a new one. */
  private metaOf(m: Message): number {
    const r = this.recent;
    for (let k = 0; k < r.length; k++) {
      const x = this.metas[r[k]!]!;
      if (x.propertiesRaw === m.propertiesRaw && x.routingKey === m.routingKey && x.exchange === m.exchange && x.properties === m.properties && x.bcc === m.bcc) {
        x.refs++;
        return r[k]!;
      }
    }
    const idx = this.freeMetas.length > 0 ? this.freeMetas.pop()! : this.metas.length;
    this.metas[idx] = { exchange: m.exchange, routingKey: m.routingKey, properties: m.properties, propertiesRaw: m.propertiesRaw, bcc: m.bcc, refs: 1 };
    if (r.length === RECENT) r.shift();
    r.push(idx);
    return idx;
  }

  peek(): QueueEntry | undefined {
    if (this.len === 0) return undefined;
    return (this.front ??= this.take());
  }

  shift(): QueueEntry | undefined {
    if (this.len === 0) return undefined;
    const e = this.front ?? this.take();
    this.front = null;
    this.len--;
    return e;
  }

  /** Remove the front record and build its entry (does not change `len`: shift does). */
  private take(): QueueEntry {
    const b = this.blocks.peek()!;
    const i = b.start++;
    if (b.start === b.end && b.end === BLOCK) this.blocks.shift();
    const mi = b.meta[i]!;
    if (mi === OBJECT) return this.objects.shift()!;
    const meta = this.metas[mi]!;
    const msg = new Message(meta.exchange, meta.routingKey, meta.properties, meta.propertiesRaw, null, b.size[i]!, 0);
    msg.storeId = b.storeId[i]!;
    msg.bcc = meta.bcc;
    msg.refs = 1; // the queue's own reference, counted when it was enqueued
    this.dropMeta(mi);
    this.encoded--;
    return new QueueEntry(msg, b.seq[i]!, b.expiresAt[i]!, b.deliveries[i]!);
  }

  /**
   * Remove the last record and build its entry; `encoded` says whether it was held as a record
   * (so it can be pushed back the same way). Rare path: withdrawing failed writes (Queue.withdraw).
   */
  pop(): { entry: QueueEntry; encoded: boolean } | undefined {
    if (this.len === 0) return undefined;
    if (this.len === 1 && this.front !== null) {
      const entry = this.front;
      this.front = null;
      this.len = 0;
      // the record the front was built from was already taken from its block
      return { entry, encoded: false };
    }
    const b = this.blocks.peekLast()!;
    const i = --b.end;
    if (b.end === b.start) this.blocks.pop();
    this.len--;
    const mi = b.meta[i]!;
    if (mi === OBJECT) return { entry: this.objects.pop()!, encoded: false };
    const meta = this.metas[mi]!;
    const msg = new Message(meta.exchange, meta.routingKey, meta.properties, meta.propertiesRaw, null, b.size[i]!, 0);
    msg.storeId = b.storeId[i]!;
    msg.bcc = meta.bcc;
    msg.refs = 1;
    this.dropMeta(mi);
    this.encoded--;
    return { entry: new QueueEntry(msg, b.seq[i]!, b.expiresAt[i]!, b.deliveries[i]!), encoded: true };
  }

  private dropMeta(mi: number): void {
    const meta = this.metas[mi]!;
    if (--meta.refs === 0) {
      this.metas[mi] = undefined;
      const k = this.recent.indexOf(mi);
      if (k >= 0) this.recent.splice(k, 1);
      this.freeMetas.push(mi);
    }
  }

  /** Empty the tail, handing each entry to `visit` one at a time (nothing is kept meanwhile). */
  clear(visit: (e: QueueEntry) => void): void {
    while (this.len > 0) visit(this.shift()!);
  }
}
