/**
 * One AMQP channel: content assembly for publishes (method → header → bodies),
 * delivery-tag bookkeeping for consumers and basic.get, prefetch (per consumer
 * and per channel, as RabbitMQ interprets basic.qos global), publisher confirms,
 * transactions. Method handlers live in handlers/*.ts and operate on a Channel.
 *
 * Invariants: delivery tags increase by one per delivery on this channel;
 * `unacked` holds exactly the deliveries awaiting ack, in tag order; confirms
 * go out in publish order, so a single multiple=true ack covers a prefix.
 */
import type { BasicProperties } from "../amqp/properties.js";
import { decodeProperties } from "../amqp/properties.js";
import { AmqpError, UNEXPECTED_FRAME, preconditionFailed, frameError } from "../amqp/errors.js";
import { FRAME_HEADER, unknownFrame } from "../amqp/frames.js";
import type { Consumer, ConsumerHost } from "../broker/consumer.js";
import type { Exchange } from "../broker/exchanges/exchange.js";
import { Message, type QueueEntry } from "../broker/message.js";
import type { Queue } from "../broker/queue.js";
import type { Session } from "./session.js";
import { writeConfirm, writeDeliver } from "./frames-out.js";
import * as M from "../amqp/gen/methods.js";
import { explicitIds } from "./explicit-ids.js";

/** the body of an empty message: shared, never written to */
const EMPTY_BODY = Buffer.alloc(0);

/**
 * Distinct encoded property sets remembered per channel for reuse: enough for a publisher that
 * mixes priorities 0-9 with persistent and transient messages (a priority queue's compact tail
 * shares one metadata set per distinct properties object, so misses here cost memory per message).
 */
const PROPS_CACHE_SIZE = 16;

export interface Unacked {
  tag: number;
  queue: Queue;
  entry: QueueEntry;
  consumer: Consumer | null;
}

/** A publish whose content is being assembled. */
interface PendingPublish {
  exchange: Exchange | null; // null: direct reply-to pseudo-queue or nonexistent (error raised at method)
  routingKey: string;
  mandatory: boolean;
  props: BasicProperties | null;
  propsRaw: Buffer | null;
  bodySize: number;
  received: number;
  /** the body's first frame (a view of the read chunk) and, when it spans frames, the others */
  first: Buffer | null;
  rest: Buffer[] | null;
}

export const enum ChannelState {
  Open,
  /** we sent channel.close and wait for close-ok; everything else is dropped */
  Closing,
  Closed,
}

/** a forward (or replication) a chained confirm waits for: 0 pending, 1 done, 2 failed */
interface RemoteWait {
  state: 0 | 1 | 2;
}

/** a publish whose confirm waits in the chain: its local fsync (0 pending, 1 done, 2 failed) and its forwards */
interface ChainEntry {
  seq: number;
  msg: Message | null;
  ok: boolean;
  local: 0 | 1 | 2;
  waits: RemoteWait | RemoteWait[] | null;
}

export class Channel implements ConsumerHost {
  state = ChannelState.Open;
  readonly consumers = new Map<string, Consumer>();
  readonly unacked = new Map<number, Unacked>();
  /** when the client last sent this channel a method (management: idle_since) */
  lastActive = Date.now();
  private deliveryTag = 0;
  /** basic.qos global=false: applies to consumers created afterwards */
  prefetchCount = 0;
  /** basic.qos global=true: shared by all consumers of the channel */
  globalPrefetch = 0;
  unackedCount = 0;
  /**
   * Unacked consumer deliveries: what the global window counts. basic.get'd
   * messages are unacked too but, as in RabbitMQ (whose limiter is notified
   * only of deliveries with a consumer tag), do not hold the window.
   */
  consumerUnacked = 0;
  flowActive = true;
  // publishing
  pending: PendingPublish | null = null;
  confirm = false;
  private publishSeq = 0;
  private confirmedUpTo = 0;
  private ackSentUpTo = 0;
  private syncsInFlight = 0;
  private confirmScheduled = false;
  tx = false;
  txPublishes: { exchange: Exchange; msg: Message; mandatory: boolean }[] = [];
  /**
   * Acks/nacks/rejects of the open transaction. As in rabbit_channel, their deliveries leave
   * `unacked` at once (so basic.recover does not redeliver them) but stay counted against
   * prefetch until tx.commit settles them; tx.rollback puts them back.
   */
  txAcks: { kind: "ack" | "requeue" | "reject"; list: Unacked[] }[] = [];
  /** direct reply-to: the pseudo-queue name and the consumer tag reading it */
  replyTo: { token: string; consumerTag: string } | null = null;
  /** name of the queue last declared on this channel (empty queue name refers to it) */
  lastQueue: string | null = null;
  /** counters for the management API */
  /** management counters; deliver/get count both ack modes, *NoAck the automatic-ack share */
  stats = { publish: 0, deliver: 0, deliverNoAck: 0, ack: 0, get: 0, getNoAck: 0, getEmpty: 0, redeliver: 0, confirm: 0, returnUnroutable: 0, dropUnroutable: 0 };

  constructor(
    readonly id: number,
    readonly conn: Session,
  ) {}

  get open(): boolean {
    return this.state === ChannelState.Open;
  }

  // ---- content assembly --------------------------------------------------

  startPublish(exchange: Exchange | null, routingKey: string, mandatory: boolean): void {
    // one routing-key string per distinct consecutive key, also when other publish
    // arguments change (queued messages share it)
    if (routingKey === this.lastRoutingKey) routingKey = this.lastRoutingKey;
    else this.lastRoutingKey = routingKey;
    // one assembly record per channel, reused: a channel assembles one message at a time
    const p = (this.assembly ??= { exchange, routingKey, mandatory, props: null, propsRaw: null, bodySize: 0, received: 0, first: null, rest: null });
    p.exchange = exchange;
    p.routingKey = routingKey;
    p.mandatory = mandatory;
    p.props = null;
    p.propsRaw = null;
    p.bodySize = 0;
    p.received = 0;
    p.first = null;
    p.rest = null;
    this.pending = p;
  }

  private assembly: PendingPublish | null = null;
  private lastRoutingKey = "";

  /**
   * basic.publish arguments, decoded. Publishers usually repeat the same exchange and
   * routing key: when the bytes equal the previous publish's, the previous decoded
   * object (treated as immutable) is returned, so its strings, with their hashes
   * already computed for the exchange and queue lookups, are reused.
   */
  decodePublish(buf: Buffer, start: number, end: number): M.BasicPublish {
    const len = end - start;
    const raw = this.lastPublishRaw;
    if (this.lastPublish !== null && len === this.lastPublishLen) {
      let i = 0;
      while (i < len && raw![i] === buf[start + i]) i++;
      if (i === len) return this.lastPublish;
    }
    const a = M.decodeBasicPublish(buf, start, end);
    // at most 2 + 256 + 256 + 1 bytes
    if (raw === null || raw.length < len) this.lastPublishRaw = Buffer.allocUnsafe(Math.max(len, 64));
    buf.copy(this.lastPublishRaw!, 0, start, end);
    this.lastPublishLen = len;
    this.lastPublish = a;
    return a;
  }

  private lastPublishRaw: Buffer | null = null;
  private lastPublishLen = 0;
  private lastPublish: M.BasicPublish | null = null;
  /** the exchange this channel was last allowed to publish to, and under which permissions */
  writeAllowedExchange: string | null = null;
  writeAllowedVersion = -1;
  private readonly propsCache: { raw: Buffer; props: BasicProperties }[] = [];
  private propsCacheNext = 0;

  onHeader(buf: Buffer, start: number, end: number): void {
    const p = this.pending;
    if (!p) throw unexpected(`expected method frame, got non method frame instead`, 0, 0);
    if (p.props) throw unexpected(`expected content body, got non content body frame instead`);
    if (end - start < 14) throw explicitIds(unknownFrame(FRAME_HEADER, buf, start, end));
    const classId = buf.readUInt16BE(start);
    if (classId !== 60) throw unexpected(`expected content header for class 60, got one for class ${classId} instead`);
    const hi = buf.readUInt32BE(start + 4);
    const bodySize = hi * 0x100000000 + buf.readUInt32BE(start + 8);
    const max = this.conn.broker.maxMessageSize;
    if (bodySize > max) {
      this.pending = null;
      throw preconditionFailed(`message size ${bodySize} is larger than configured max size ${max}`).withMethod(60, 40);
    }
    // The encoded properties are kept as sent (copied out of the read buffer: they are tiny).
    // Publishers usually send the same properties message after message: reuse a recent
    // decoded object and its bytes (both are treated as immutable), which saves ~350 bytes
    // per queued message and a decode per publish.
    const len = end - start - 12;
    const cache = this.propsCache;
    let hit = -1;
    const from = start + 12;
    for (let i = 0; i < cache.length; i++) {
      const c = cache[i]!.raw;
      // length, then the last byte: a per-message field (message_id, timestamp) differs there
      if (c.length !== len || (len > 0 && c[len - 1] !== buf[from + len - 1])) continue;
      // a byte loop: property sets are short, and Buffer#compare on ranges costs more to call
      let k = 0;
      while (k < len && c[k] === buf[from + k]) k++;
      if (k === len) {
        hit = i;
        break;
      }
    }
    if (hit >= 0) {
      p.props = cache[hit]!.props;
      p.propsRaw = cache[hit]!.raw;
    } else {
      const raw = Buffer.from(buf.subarray(start + 12, end));
      p.props = decodeProperties(raw, 0, raw.length);
      p.propsRaw = raw;
      // a few distinct property sets per channel are common (e.g. persistent and transient)
      if (cache.length < PROPS_CACHE_SIZE) cache.push({ raw, props: p.props });
      else cache[this.propsCacheNext++ % PROPS_CACHE_SIZE] = { raw, props: p.props };
    }
    p.bodySize = bodySize;
    if (bodySize === 0) this.completePublish();
  }

  onBody(buf: Buffer, start: number, end: number): void {
    const p = this.pending;
    if (!p) throw unexpected(`expected method frame, got non method frame instead`, 0, 0);
    if (!p.props) throw unexpected(`expected content header for class 60, got non content header frame instead`);
    const n = end - start;
    if (p.received + n > p.bodySize) throw frameError(`content body exceeds declared size ${p.bodySize}`);
    // zero-copy: the body is a view of the read chunk (copied only when spread over frames)
    const chunk = buf.subarray(start, end);
    if (p.first === null) p.first = chunk;
    else (p.rest ??= []).push(chunk);
    p.received += n;
    if (p.received === p.bodySize) this.completePublish();
  }

  private completePublish(): void {
    const p = this.pending!;
    this.pending = null;
    const body = p.first === null ? EMPTY_BODY : p.rest === null ? p.first : Buffer.concat([p.first, ...p.rest], p.bodySize);
    // publish time = when the socket chunk carrying it was read (one clock read per chunk)
    const msg = new Message(p.exchange ? p.exchange.name : "", p.routingKey, p.props!, p.propsRaw!, body, p.bodySize, this.conn.lastRecv);
    const { exchange, mandatory } = p;
    // drop references to the read chunk and properties before publishing (publish may throw)
    p.exchange = null;
    p.first = null;
    p.rest = null;
    p.props = null;
    p.propsRaw = null;
    this.conn.publisher.publish(this, exchange, msg, mandatory);
  }

  // ---- publisher confirms -------------------------------------------------

  /** Allocate the confirm sequence number of the next publish (confirm mode only). */
  nextPublishSeq(): number {
    return ++this.publishSeq;
  }

  /**
   * The publish `seq` is settled; `needsSync` when its data went to the store.
   * Confirms are kept in publish order: once any publish waits for fsync, later
   * ones wait behind it (the same group commit serves them), so every ack is a
   * prefix and goes out as one multiple=true basic.ack per turn. When the write fails the
   * publish is nacked and `msg` taken back from its queues (broker/withdraw.ts).
   */
  settlePublish(seq: number, needsSync: boolean, ok: boolean, msg: Message | null, forwards: Promise<boolean>[] | null = null): void {
    if (forwards !== null || this.chainHead < this.chain.length) return this.chainConfirm(seq, needsSync, ok, msg, forwards);
    const store = this.conn.broker.store;
    // a refusal (overflow) waits behind earlier publishes still waiting for their fsync, too:
    // answered first, it would move confirmedUpTo past them and their acks would never go out
    if (store && (needsSync || this.syncsInFlight > 0)) {
      this.syncsInFlight++;
      store.sync((err) => {
        this.syncsInFlight--;
        if (err && msg !== null) this.conn.broker.withdrawals.add(msg);
        // after our channel.close (Closing) or the client's, nothing but close-ok goes out on
        // this channel: a late confirm would land on a channel the client may already reuse
        if (this.state !== ChannelState.Open) return;
        if (err || !ok) this.nackPublish(seq);
        else this.markConfirmed(seq);
      });
      return;
    }
    if (ok) this.markConfirmed(seq);
    else this.nackPublish(seq);
  }

  /**
   * basic.nack of `seq` alone (multiple=false), after the acks settled before it. Every earlier
   * publish is answered by then: the store answers its sync callbacks in request order.
   */
  private nackPublish(seq: number): void {
    this.flushConfirms();
    writeConfirm(this.conn.outbox, this.id, seq, false, false);
    this.confirmedUpTo = this.ackSentUpTo = seq;
  }

  /**
   * Cluster member: confirms of publishes forwarded to other nodes or replicated (and every
   * publish after one, while any is outstanding) go out in order once the home nodes (or the
   * quorum queue's replicas) and the local store have them; a nack from a home node (or a
   * home node that is gone) nacks. A FIFO of plain entries, no promise per message: the
   * forwards of one publish are mostly the same promise as the previous one's (a quorum
   * leader settles everything enqueued in one turn with one promise), subscribed to once.
   */
  private chain: ChainEntry[] = [];
  private chainHead = 0;
  private lastForward: Promise<boolean> | null = null;
  private lastWait: RemoteWait | null = null;

  private chainConfirm(seq: number, needsSync: boolean, ok: boolean, msg: Message | null, forwards: Promise<boolean>[] | null): void {
    const store = this.conn.broker.store;
    let waits: RemoteWait | RemoteWait[] | null = null;
    if (forwards !== null) {
      if (forwards.length === 1) waits = this.waitFor(forwards[0]!);
      else {
        waits = [];
        for (const f of forwards) waits.push(this.waitFor(f));
      }
    }
    const e: ChainEntry = { seq, msg, ok, local: 0, waits };
    this.chain.push(e);
    // behind a fast-path publish still waiting for its fsync, too (a refusal as well): the store
    // answers in order, and an answer before theirs would move confirmedUpTo past them
    if (store && ((ok && needsSync) || this.syncsInFlight > 0)) {
      store.sync((err) => {
        e.local = err || !ok ? 2 : 1;
        this.drainChain();
      });
    } else e.local = ok ? 1 : 2;
    this.drainChain();
  }

  private waitFor(p: Promise<boolean>): RemoteWait {
    if (p === this.lastForward) return this.lastWait!;
    const w: RemoteWait = { state: 0 };
    p.then(
      (r) => {
        w.state = r ? 1 : 2;
        this.drainChain();
      },
      () => {
        w.state = 2;
        this.drainChain();
      },
    );
    this.lastForward = p;
    this.lastWait = w;
    return w;
  }

  /** send what is settled at the head of the chain, in publish order */
  private drainChain(): void {
    const c = this.chain;
    while (this.chainHead < c.length) {
      const e = c[this.chainHead]!;
      if (e.local === 0) break;
      let remoteOk = true;
      const w = e.waits;
      if (w !== null) {
        if (Array.isArray(w)) {
          let pending = false;
          for (const x of w) {
            if (x.state === 0) pending = true;
            else if (x.state === 2) remoteOk = false;
          }
          if (pending) break;
        } else if (w.state === 0) break;
        else remoteOk = w.state === 1;
      }
      this.chainHead++;
      // the store could not write it: take it back from its queues (broker/withdraw.ts)
      if (e.local === 2 && e.msg !== null && e.ok) this.conn.broker.withdrawals.add(e.msg);
      if (this.state !== ChannelState.Open) continue;
      if (e.local === 1 && remoteOk) this.markConfirmed(e.seq);
      else this.nackPublish(e.seq);
    }
    if (this.chainHead === c.length) {
      c.length = 0;
      this.chainHead = 0;
      this.lastForward = null;
      this.lastWait = null;
    } else if (this.chainHead >= 4096) {
      c.splice(0, this.chainHead);
      this.chainHead = 0;
    }
  }

  private markConfirmed(seq: number): void {
    if (seq > this.confirmedUpTo) this.confirmedUpTo = seq;
    if (!this.confirmScheduled) {
      this.confirmScheduled = true;
      // one ack per event-loop turn covering everything settled meanwhile
      queueMicrotask(() => {
        this.confirmScheduled = false;
        this.flushConfirms();
      });
    }
  }

  private flushConfirms(): void {
    if (this.confirmedUpTo <= this.ackSentUpTo || this.state !== ChannelState.Open) return;
    const multiple = this.confirmedUpTo - this.ackSentUpTo > 1;
    writeConfirm(this.conn.outbox, this.id, this.confirmedUpTo, multiple, true);
    this.stats.confirm += this.confirmedUpTo - this.ackSentUpTo;
    this.conn.broker.totals.confirmed += this.confirmedUpTo - this.ackSentUpTo;
    if (this.conn.vhost) this.conn.vhost.stats.confirm += this.confirmedUpTo - this.ackSentUpTo;
    this.ackSentUpTo = this.confirmedUpTo;
  }

  // ---- ConsumerHost --------------------------------------------------------

  canDeliver(c: Consumer): boolean {
    if (this.state !== ChannelState.Open || !this.flowActive) return false;
    if (!this.conn.outbox.writable()) {
      this.conn.outbox.wantKick = true;
      return false;
    }
    // the channel-wide window (rabbit_limiter) holds back every consumer of the channel
    // while it is full, no-ack ones included (they just do not use it up)
    if (this.globalPrefetch !== 0 && this.consumerUnacked >= this.globalPrefetch) return false;
    if (c.noAck) return true;
    if (c.prefetch !== 0 && c.unacked >= c.prefetch) return false;
    return true;
  }

  deliver(c: Consumer, q: Queue, e: QueueEntry): void {
    const tag = ++this.deliveryTag;
    const msg = e.msg;
    if (msg.body === null && msg.storeId !== 0 && this.conn.broker.store) msg.body = this.conn.broker.store.readBody(msg.storeId);
    // a quorum queue's redelivery carries x-delivery-count (a per-delivery copy of the properties)
    writeDeliver(this.conn.outbox, this.id, c.tag, tag, e.deliveryCount > 0, q.quorum ? q.outgoing(e, false) : msg, this.conn.frameMax);
    const totals = this.conn.broker.totals;
    totals.deliver++;
    if (e.deliveryCount > 0) {
      totals.redeliver++;
      this.stats.redeliver++;
    }
    e.deliveryCount++;
    this.stats.deliver++;
    if (c.noAck) {
      totals.deliverNoAck++;
      this.stats.deliverNoAck++;
      q.settle(e, false);
    } else {
      this.unacked.set(tag, { tag, queue: q, entry: e, consumer: c });
      c.unacked++;
      this.unackedCount++;
      this.consumerUnacked++;
      q.markUnacked();
    }
  }

  /** A delivery tag for a direct reply-to delivery (no-ack, not tracked). */
  nextReplyTag(): number {
    return ++this.deliveryTag;
  }

  /** basic.get-ok bookkeeping; returns the delivery tag. */
  recordGet(q: Queue, e: QueueEntry, noAck: boolean): number {
    const tag = ++this.deliveryTag;
    if (noAck) return tag;
    this.unacked.set(tag, { tag, queue: q, entry: e, consumer: null });
    this.unackedCount++;
    q.markUnacked();
    return tag;
  }

  cancelledByServer(c: Consumer): void {
    this.consumers.delete(c.tag);
    if (this.state === ChannelState.Open && this.conn.capabilities.consumerCancelNotify) {
      this.conn.sendMethod(this.id, M.BASIC_CANCEL, { consumerTag: c.tag, nowait: true });
    }
  }

  // ---- acknowledgements ---------------------------------------------------

  /** Collect the deliveries an ack/nack/reject refers to, removing them. */
  takeUnacked(tag: number, multiple: boolean): Unacked[] {
    // rabbit_channel:collect_acks: with multiple=true the tag itself must be outstanding
    // (0 means "everything"), else 406 and nothing is settled
    if (multiple && tag !== 0 && !this.unacked.has(tag)) throw preconditionFailed(`unknown delivery tag ${tag}`);
    if (multiple) {
      const out: Unacked[] = [];
      for (const [t, u] of this.unacked) {
        if (tag !== 0 && t > tag) break;
        out.push(u);
        this.unacked.delete(t);
      }
      if (out.length === 0 && tag !== 0) throw preconditionFailed(`unknown delivery tag ${tag}`);
      return out;
    }
    const u = this.unacked.get(tag);
    if (!u) throw preconditionFailed(`unknown delivery tag ${tag}`);
    this.unacked.delete(tag);
    return [u];
  }

  /** Settle deliveries: ack, or requeue / reject. Then let queues deliver again. */
  settle(list: Unacked[], kind: "ack" | "requeue" | "reject"): void {
    const windowWasFull = this.globalPrefetch !== 0 && this.consumerUnacked >= this.globalPrefetch;
    const touched = new Set<Queue>();
    let rejected: Map<Queue, QueueEntry[]> | null = null;
    // requeue in reverse tag order so each lands back at its original position efficiently
    if (kind === "requeue") list = list.slice().reverse();
    for (const u of list) {
      this.unackedCount--;
      if (u.consumer) {
        u.consumer.unacked--;
        this.consumerUnacked--;
      }
      touched.add(u.queue);
      if (kind === "ack") {
        u.queue.settle(u.entry, true);
        this.stats.ack++;
        this.conn.broker.totals.ack++;
      } else if (kind === "requeue") {
        u.queue.requeue(u.entry);
      } else {
        rejected ??= new Map();
        const arr = rejected.get(u.queue);
        if (arr) arr.push(u.entry);
        else rejected.set(u.queue, [u.entry]);
      }
    }
    if (rejected) for (const [q, entries] of rejected) q.reject(entries);
    if (kind === "requeue") for (const q of touched) q.trimToMaxLength();
    // freed channel-wide credit goes round the channel's consumers, not back to the queue
    // that was just acked (RabbitMQ's limiter resumes all the queues it blocked)
    if (windowWasFull && this.consumerUnacked < this.globalPrefetch) this.offerWindow();
    for (const q of touched) q.drain();
  }

  /** rotating start for offerWindow */
  private offerFrom = 0;

  /** Let each consumer's queue deliver, starting one further round the channel each time. */
  private offerWindow(): void {
    const n = this.consumers.size;
    if (n === 0) return;
    const start = this.offerFrom++ % n;
    let i = 0;
    for (const c of this.consumers.values()) if (i++ >= start) c.queue.drain();
    i = 0;
    for (const c of this.consumers.values()) {
      if (i++ >= start) break;
      c.queue.drain();
    }
  }

  /** Requeue everything unacked (channel close, basic.recover). */
  requeueAll(): void {
    if (this.unacked.size === 0) return;
    const list = [...this.unacked.values()];
    this.unacked.clear();
    this.settle(list, "requeue");
  }

  /** tx.rollback: the transaction's acks are undone, their deliveries unacked again, in tag order. */
  restoreTxAcks(): void {
    if (this.txAcks.length === 0) return;
    const all = [...this.unacked.values()];
    for (const a of this.txAcks) all.push(...a.list);
    this.txAcks = [];
    all.sort((x, y) => x.tag - y.tag);
    this.unacked.clear();
    for (const u of all) this.unacked.set(u.tag, u);
  }

  // ---- lifecycle ----------------------------------------------------------

  /** Release everything the channel holds (close or connection loss). */
  teardown(): void {
    if (this.state === ChannelState.Closed) return;
    this.state = ChannelState.Closed;
    this.pending = null;
    for (const c of this.consumers.values()) c.queue.removeConsumer(c);
    this.consumers.clear();
    if (this.replyTo) this.conn.replyTo.delete(this.replyTo.token);
    // state is Closed, so requeued messages are not re-delivered to this channel;
    // acks of an uncommitted transaction never happened
    this.restoreTxAcks();
    this.requeueAll();
  }

  /** Re-run delivery on every queue this channel consumes from. */
  kick(): void {
    for (const c of this.consumers.values()) c.queue.drain();
  }
}

/** Content-assembly errors are hard (505) and name the pending method (basic.publish) unless none is pending. */
export function unexpected(text: string, classId = 60, methodId = 40): AmqpError {
  return explicitIds(new AmqpError(UNEXPECTED_FRAME, `${text}`, classId, methodId, true));
}
