/**
 * A classic queue: ready messages in publish order (or by priority), consumers
 * served round-robin within the highest priority that has capacity, unacked
 * deliveries counted here and tracked by delivery tag in the channel.
 *
 * Owns: queue arguments (TTL, expires, max-length, overflow, dead-lettering,
 * priority, single active consumer), expiry timers, the delivery loop.
 * Does not own: routing (router.ts), frames (server/), disk (store via the
 * MessageStore port — only for durable queues and persistent messages).
 *
 * Invariants: every entry is in exactly one place — ready, or unacked in one
 * channel; `msg.refs` counts the queues holding a Message object; a paged-out
 * body's holders are counted by the store (retainPaged/releasePaged, one per
 * queue holding it as an object or as a compact record); a durable queue's
 * persistent message is removed from the store exactly once (ack, drop,
 * expiry, purge, dead-letter, delete).
 */
import type { FieldTable } from "../amqp/field-table.js";
import type { MessageStore } from "../store/types.js";
import { isDurableId, isPagedId, queueKey } from "../store/types.js";
import type { Binding, Destination } from "./exchanges/exchange.js";
import type { Consumer } from "./consumer.js";
import { type Message, QueueEntry, withDeliveryCount } from "./message.js";
import { FifoReadyList, PriorityReadyList, resident, type ReadyList } from "./ready-list.js";
import { withPolicy, type AppliedPolicy } from "./policy.js";
import { FlowGate } from "./flow.js";
import { collectGarbageSoon } from "../lib/gc.js";
import { forwarding, type QueueReplica, type RemoteHome } from "./cluster-view.js";

/**
 * Backlogs beyond memory: once a queue holds this many ready messages, or the broker's
 * ready bodies pass the resident budget (ready-list.ts), newly enqueued bodies leave memory (persistent ones are already in the
 * store; transient ones go to a scratch file) and are read back at delivery — what
 * RabbitMQ's classic queues v2 do. The head of the queue stays in memory.
 */
export const PAGE_AFTER_MESSAGES = 200_000;

/**
 * The flow window (flow.ts): a queue with consumers holds its publishers once this many
 * messages or body bytes wait ahead of the consumers, and lets them go below half of it.
 * Large enough that bursts (a producer enqueueing a batch of jobs) pass untouched and the
 * consumers never run dry between a release and the publisher's next read; small enough
 * that a sustained flood keeps the queue, and the heap, flat.
 */
export const FLOW_WINDOW = { messages: 20_000, bytes: 32 * 1024 * 1024 };

/**
 * A purge or delete that frees at least this many messages asks for a full collection: an
 * idle broker allocates nothing, so V8 would otherwise keep the freed backlog's memory.
 */
const LARGE_RELEASE = 100_000;

export type DeadLetterReason = "rejected" | "expired" | "maxlen" | "delivery_limit";

/** What a queue needs from its vhost. */
export interface QueueOwner {
  deadLetter(q: Queue, msgs: QueueEntry[], reason: DeadLetterReason): void;
  /** delete the queue (auto-delete, x-expires) */
  autoDeleteQueue(q: Queue, reason: string): void;
}

export interface QueueSettings {
  messageTtl: number | undefined;
  expires: number | undefined;
  maxLength: number | undefined;
  maxLengthBytes: number | undefined;
  overflow: "drop-head" | "reject-publish" | "reject-publish-dlx";
  deadLetterExchange: string | undefined;
  deadLetterRoutingKey: string | undefined;
  maxPriority: number | undefined;
  singleActiveConsumer: boolean;
  queueType: string;
  /** quorum queues: a message returned more often than this is dead-lettered (reason delivery_limit) or dropped */
  deliveryLimit: number | undefined;
}

export interface QueueOptions {
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  arguments: FieldTable;
}

export class Queue implements Destination {
  readonly kind = "queue" as const;
  readonly incoming = new Set<Binding>();
  readonly consumers: Consumer[] = [];
  /** connection that owns an exclusive queue */
  exclusiveOwner: object | null = null;
  /** router de-duplication mark (see router.ts) */
  routeMark = 0;
  unacked = 0;
  deleted = false;
  /** stats for the management API */
  stats = { publish: 0, deliver: 0, deliverNoAck: 0, get: 0, getNoAck: 0, getEmpty: 0, ack: 0, redeliver: 0 };
  readonly ready: ReadyList;
  readonly key: string;
  private seq = 0;
  private draining = false;
  private hadConsumer = false;
  private ttlTimer: NodeJS.Timeout | null = null;
  private ttlTimerAt = 0;
  private expiresTimer: NodeJS.Timeout | null = null;
  lastUsed = Date.now();
  /** name of the policy in effect, if any */
  policy: string | undefined;
  /** name of the operator policy capping it, if any */
  operatorPolicy: string | undefined;
  /** settings from the queue's own x-arguments, before any policy */
  private readonly ownSettings: QueueSettings;
  /** holds publishers while consumers catch up; created the first time the queue congests */
  private flow: FlowGate | null = null;
  /** on a cluster member: this durable queue's home is another node (null: it lives here) */
  remote: RemoteHome | null = null;
  /** x-queue-type quorum (fixed at declare, as in RabbitMQ: no policy changes a queue's type) */
  readonly quorum: boolean;
  /** on a cluster member leading this quorum queue: replication to the followers (null otherwise) */
  replica: QueueReplica | null = null;

  constructor(
    readonly vhost: string,
    readonly name: string,
    readonly options: QueueOptions,
    readonly settings: QueueSettings,
    private readonly owner: QueueOwner,
    /** the vhost's store: persistence (durable queues only) and paging (all queues) */
    private readonly store: MessageStore | null,
  ) {
    this.key = queueKey(vhost, name);
    this.ownSettings = { ...settings };
    this.quorum = settings.queueType === "quorum";
    this.ready = settings.maxPriority !== undefined ? new PriorityReadyList(settings.maxPriority) : new FifoReadyList();
    this.touch();
  }

  get durable(): boolean {
    return this.options.durable;
  }
  get exclusive(): boolean {
    return this.options.exclusive;
  }
  get autoDelete(): boolean {
    return this.options.autoDelete;
  }
  get arguments(): FieldTable {
    return this.options.arguments;
  }
  get messageCount(): number {
    return this.ready.length;
  }
  get consumerCount(): number {
    return this.consumers.length;
  }

  /**
   * Does this queue hold a durable store reference to `msg`? (a persistent message in a durable
   * queue; in a quorum queue any message: RabbitMQ's quorum queues keep transient ones too)
   */
  isStored(msg: Message): boolean {
    return this.durable && isDurableId(msg.storeId) && (this.quorum || msg.persistent);
  }

  // ---- publishing -------------------------------------------------------

  /**
   * May this message be enqueued? False when x-overflow=reject-publish(-dlx) and the
   * queue is full (the router then nacks the publisher; -dlx also dead-letters it).
   */
  accepts(msg: Message): boolean {
    const s = this.settings;
    if (s.overflow === "reject-publish" && this.quorum) return this.quorumAccepts();
    if (s.overflow === "drop-head" || !this.wouldOverflow(msg)) return true;
    if (s.overflow === "reject-publish-dlx") this.owner.deadLetter(this, [new QueueEntry(msg, 0, 0, 0)], "maxlen");
    return false;
  }

  /**
   * Enqueue a routed message (after accepts()). Once its body is on disk (persisted for this
   * queue, or paged out to scratch, where the store counts every queue holding it) the ready
   * list may hold it as a compact record (paged-tail.ts), also when other queues got it too.
   */
  publish(msg: Message, now: number, pulled = false, redelivered = false): void {
    if (this.remote !== null && !pulled) return this.forwardHome(this.remote, msg);
    const s = this.settings;
    this.stats.publish++;
    msg.refs++;
    // a body another queue already paged out: this queue is one more holder of it
    if (isPagedId(msg.storeId)) this.store!.retainPaged(msg.storeId);
    if (this.replica !== null) this.replica.enqueued(msg);
    const entry = new QueueEntry(msg, ++this.seq, this.expiryFor(msg, now), redelivered ? 1 : 0);
    if (entry.expiresAt !== 0 && entry.expiresAt <= now) {
      // TTL 0: delivered only if a consumer can take it right now (RabbitMQ semantics)
      if (this.ready.length === 0 && this.deliverNow(entry)) return;
      this.dropEntries([entry], "expired");
      return;
    }
    if (this.ready.length === 0 && this.consumers.length > 0 && this.deliverNow(entry)) return;
    // page before pushing so the entry is accounted as resident or not from the start
    if (this.store !== null && (this.ready.length >= PAGE_AFTER_MESSAGES || resident.bytes > resident.budget)) this.page(msg);
    this.ready.push(entry, this.encodable(msg) && (this.isStored(msg) || isPagedId(msg.storeId)));
    if (entry.expiresAt !== 0) this.scheduleTtl(entry.expiresAt);
    if (s.overflow === "drop-head") this.enforceMaxLength();
    if (this.consumers.length > 0) {
      this.drain();
      if (this.ready.length > FLOW_WINDOW.messages || this.ready.bytes > FLOW_WINDOW.bytes) this.congested();
    }
  }

  /** A queue homed on another node: the message goes there (the publisher's confirm waits for it). */
  private forwardHome(home: RemoteHome, msg: Message): void {
    this.stats.publish++;
    const p = home.forward(msg);
    if (forwarding.pending !== null) forwarding.pending.push(p);
  }

  /** Past the flow window with consumers attached: hold the publishing connection. */
  private congested(): void {
    (this.flow ??= new FlowGate(() => this.stats.deliver + this.stats.deliverNoAck)).hold();
  }

  /** Let held publishers go once the backlog is under half the window (or gating no longer applies). */
  private releaseFlowIfDrained(): void {
    const f = this.flow;
    if (f === null || !f.holding) return;
    if (this.consumers.length === 0 || this.deleted || (this.ready.length <= FLOW_WINDOW.messages / 2 && this.ready.bytes <= FLOW_WINDOW.bytes / 2)) f.release();
  }

  /** Put recovered messages back at start (from the store). */
  restore(msg: Message, redelivered: boolean): void {
    msg.refs++;
    const e = new QueueEntry(msg, ++this.seq, this.expiryFor(msg, Date.now()), redelivered ? 1 : 0);
    // a recovered message left on disk is this queue's own reference (the store counts per queue)
    this.ready.push(e, this.encodable(msg) && this.isStored(msg));
    if (e.expiresAt !== 0) this.scheduleTtl(e.expiresAt);
  }

  /**
   * May the ready list hold this message as a compact record (paged-tail.ts), its object
   * dropped and rebuilt at delivery? Not while a quorum queue's leader replicates it: the
   * replication index knows each message by its object, and an ack of a rebuilt one would never
   * reach the followers (which kept acked messages and redelivered them after the next failover).
   * The index holds every object anyway, so the compact form would save nothing there.
   */
  private encodable(msg: Message): boolean {
    return msg.body === null && this.replica === null;
  }

  private expiryFor(msg: Message, now: number): number {
    let ttl = this.settings.messageTtl;
    const exp = msg.properties.expiration;
    if (exp !== undefined) {
      const n = Number(exp);
      if (Number.isFinite(n) && n >= 0 && (ttl === undefined || n < ttl)) ttl = n;
    }
    return ttl === undefined ? 0 : now + ttl;
  }

  private wouldOverflow(msg: Message): boolean {
    const { maxLength, maxLengthBytes } = this.settings;
    if (maxLength !== undefined && this.ready.length >= maxLength) return true;
    if (maxLengthBytes !== undefined && this.ready.bytes + msg.bodySize > maxLengthBytes) return true;
    return false;
  }

  /**
   * After requeues (nack, reject, recover, channel close): requeued messages count
   * against x-max-length again and drop-head trims from the head, dead-lettering
   * with reason maxlen (rabbit_amqqueue_process:requeue_and_run → maybe_drop_head).
   */
  trimToMaxLength(): void {
    if (this.settings.overflow === "drop-head" && !this.deleted) this.enforceMaxLength();
  }

  private enforceMaxLength(): void {
    const { maxLength, maxLengthBytes } = this.settings;
    if (maxLength === undefined && maxLengthBytes === undefined) return;
    const dropped: QueueEntry[] = [];
    while (this.ready.length > 0 && ((maxLength !== undefined && this.ready.length > maxLength) || (maxLengthBytes !== undefined && this.ready.bytes > maxLengthBytes))) {
      dropped.push(this.ready.shift()!);
    }
    if (dropped.length) this.dropEntries(dropped, "maxlen");
  }

  // ---- delivery ---------------------------------------------------------

  /** Try to hand one entry straight to a consumer (empty queue fast path). */
  private deliverNow(entry: QueueEntry): boolean {
    const c = this.pickConsumer();
    if (!c) return false;
    this.handTo(c, entry);
    return true;
  }

  /** Deliver ready messages while some consumer has capacity. */
  drain(): void {
    if (this.draining || this.deleted) return;
    this.draining = true;
    try {
      // read the clock only if some message has a TTL (a clock read per drain is measurable)
      let now = 0;
      while (this.ready.length > 0) {
        const head = this.ready.peek()!;
        if (head.expiresAt !== 0 && head.expiresAt <= (now ||= Date.now())) {
          this.expireHead(now);
          continue;
        }
        const c = this.pickConsumer();
        if (!c) break;
        this.handTo(c, this.ready.shift()!);
      }
    } finally {
      this.draining = false;
    }
    if (this.flow !== null) this.releaseFlowIfDrained();
  }

  private handTo(c: Consumer, entry: QueueEntry): void {
    if (c.noAck) this.stats.deliverNoAck++;
    else {
      this.stats.deliver++;
      if (entry.deliveryCount === 0) this.markDelivered(entry.msg);
    }
    if (entry.deliveryCount > 0) this.stats.redeliver++;
    c.host.deliver(c, this, entry);
    // round-robin: a consumer that was just served goes behind its equals
    const cs = this.consumers;
    if (cs.length > 1 && !this.settings.singleActiveConsumer) {
      const i = cs.indexOf(c);
      let j = i;
      while (j + 1 < cs.length && cs[j + 1]!.priority === c.priority) {
        cs[j] = cs[j + 1]!;
        j++;
      }
      cs[j] = c;
    }
  }

  private pickConsumer(): Consumer | undefined {
    const cs = this.consumers;
    if (this.settings.singleActiveConsumer) {
      const c = cs[0];
      return c && c.host.canDeliver(c) ? c : undefined;
    }
    for (let i = 0; i < cs.length; i++) {
      const c = cs[i]!;
      if (c.host.canDeliver(c)) return c;
    }
    return undefined;
  }

  /** basic.get: next ready message, or undefined. */
  get(noAck: boolean): QueueEntry | undefined {
    this.touch();
    const now = Date.now();
    while (this.ready.length > 0) {
      const head = this.ready.peek()!;
      if (head.expiresAt !== 0 && head.expiresAt <= now) {
        this.expireHead(now);
        continue;
      }
      if (noAck) this.stats.getNoAck++;
      else {
        this.stats.get++;
        if (head.deliveryCount === 0) this.markDelivered(head.msg);
      }
      if (head.deliveryCount > 0) this.stats.redeliver++;
      return this.ready.shift();
    }
    return undefined;
  }

  // ---- settlement (called by the channel) ---------------------------------

  /** A delivered entry was handed out; the channel now tracks it (manual ack). */
  markUnacked(): void {
    this.unacked++;
  }

  /**
   * Take back the ready messages among `ids` (store ids of publishes whose write failed and whose
   * publishers were nacked): a nacked message is never delivered. Returns how many were removed.
   * Already delivered ones stay with their consumer (see Broker.withdraw).
   */
  withdraw(ids: ReadonlySet<number>, minId: number): number {
    if (this.ready.persistent === 0) return 0;
    const gone = this.ready.withdraw(ids, minId);
    for (const e of gone) this.release(e.msg);
    if (gone.length > 0 && this.flow !== null) this.releaseFlowIfDrained();
    return gone.length;
  }

  /** Ack of a manual-ack delivery, or the completion of a no-ack one. */
  settle(entry: QueueEntry, wasUnacked: boolean): void {
    if (wasUnacked) {
      this.unacked--;
      this.stats.ack++;
    }
    this.release(entry.msg);
  }

  /** nack/reject/channel close with requeue. */
  requeue(entry: QueueEntry): void {
    this.unacked--;
    // a pulled copy whose link is gone (its home or leader redelivers the original): not kept here
    if (this.deleted || (this.remote !== null && !this.remote.holds(entry.msg))) return this.release(entry.msg);
    if (this.quorum && this.returnedTooOften(entry)) return this.dropEntries([entry], "delivery_limit");
    this.ready.requeue(entry);
    if (entry.expiresAt !== 0) this.scheduleTtl(entry.expiresAt);
  }

  /** nack/reject without requeue: dead-letter or drop. */
  reject(entries: QueueEntry[]): void {
    this.unacked -= entries.length;
    this.dropEntries(entries, "rejected");
  }

  /** Remove messages for good; dead-letter them first if configured. */
  private dropEntries(entries: QueueEntry[], reason: DeadLetterReason): void {
    if (this.settings.deadLetterExchange !== undefined && !this.deleted) this.owner.deadLetter(this, entries, reason);
    for (const e of entries) this.release(e.msg);
  }

  private release(msg: Message): void {
    if (this.remote !== null) this.remote.released(msg);
    else if (this.replica !== null) this.replica.removed(msg);
    msg.refs--;
    const store = this.store;
    if (store === null || msg.storeId === 0) return;
    if (isPagedId(msg.storeId)) {
      store.releasePaged(msg.storeId);
    } else if (this.durable) {
      store.remove(this.key, msg.storeId);
    }
  }

  /**
   * First delivery of a stored message that must be acked: the store notes it, so after a
   * restart the message comes back redelivered=true, and never-delivered ones false.
   * (A no-ack delivery is removed at once and needs no mark.)
   */
  private markDelivered(msg: Message): void {
    if (this.isStored(msg)) this.store!.markDelivered(this.key, msg.storeId);
  }

  /** Drop a queued body from memory; it is read back from disk at delivery. */
  private page(msg: Message): void {
    if (msg.body === null) return;
    // on disk under this queue's own reference (another queue's delivery may have read a paged body back)
    if (this.isStored(msg) || isPagedId(msg.storeId)) msg.body = null;
    // every queue holding the Message so far (this one included) holds the paged body
    else if (msg.storeId === 0) this.store!.pageOut(msg, msg.refs);
    // else: persisted for other (durable) queues only; keep it in memory rather than depend on their refs
  }

  // ---- TTL and expiry ----------------------------------------------------

  private expireHead(now: number): void {
    const expired: QueueEntry[] = [];
    let head = this.ready.peek();
    while (head && head.expiresAt !== 0 && head.expiresAt <= now) {
      expired.push(this.ready.shift()!);
      head = this.ready.peek();
    }
    if (expired.length) this.dropEntries(expired, "expired");
  }

  private scheduleTtl(at: number): void {
    if (this.ttlTimer && this.ttlTimerAt <= at) return;
    if (this.ttlTimer) clearTimeout(this.ttlTimer);
    this.ttlTimerAt = at;
    this.ttlTimer = setTimeout(() => this.onTtlTimer(), Math.max(0, at - Date.now()) + 1);
    this.ttlTimer.unref();
  }

  private onTtlTimer(): void {
    this.ttlTimer = null;
    if (this.deleted) return;
    const now = Date.now();
    this.expireHead(now);
    this.drain();
    const head = this.ready.peek();
    if (head && head.expiresAt !== 0) this.scheduleTtl(head.expiresAt);
  }

  /** Queue was used (declare, consume, get): restart the x-expires clock. */
  touch(): void {
    this.lastUsed = Date.now();
    const exp = this.settings.expires;
    if (exp === undefined || this.deleted) return;
    if (this.expiresTimer) clearTimeout(this.expiresTimer);
    if (this.consumers.length > 0) {
      this.expiresTimer = null;
      return;
    }
    this.expiresTimer = setTimeout(() => {
      if (this.consumers.length === 0 && !this.deleted) this.owner.autoDeleteQueue(this, "expired");
    }, exp);
    this.expiresTimer.unref();
  }

  // ---- consumers ---------------------------------------------------------

  addConsumer(c: Consumer): void {
    // keep consumers ordered by priority, highest first; equal priorities in arrival order
    let i = this.consumers.length;
    while (i > 0 && this.consumers[i - 1]!.priority < c.priority) i--;
    this.consumers.splice(i, 0, c);
    this.hadConsumer = true;
    if (this.remote !== null && this.consumers.length === 1) this.remote.startPulling();
    if (this.expiresTimer) {
      clearTimeout(this.expiresTimer);
      this.expiresTimer = null;
    }
    this.drain();
  }

  removeConsumer(c: Consumer): void {
    const i = this.consumers.indexOf(c);
    if (i < 0) return;
    this.consumers.splice(i, 1);
    if (this.consumers.length === 0) {
      if (this.remote !== null) this.remote.stopPulling();
      this.flow?.release();
      if (this.autoDelete && this.hadConsumer && !this.deleted) {
        this.owner.autoDeleteQueue(this, "auto-delete");
        return;
      }
      this.touch();
    } else if (i === 0 && this.settings.singleActiveConsumer) {
      this.drain();
    }
  }

  // ---- policies ------------------------------------------------------------

  /** Apply (or, with undefined, remove) a policy: effective settings = own x-arguments + policy. */
  applyPolicy(p: AppliedPolicy | undefined): void {
    this.policy = p?.name;
    this.operatorPolicy = p?.operatorPolicy;
    Object.assign(this.settings, withPolicy(this.ownSettings, this.options.arguments, p?.definition));
    if (this.settings.expires !== undefined) this.touch();
  }

  // ---- quorum-queue semantics (RabbitMQ 3.10's rabbit_quorum_queue / rabbit_fifo) -------------
  // A quorum queue counts a message's returns (nack or reject with requeue, recover, a closed
  // channel or cancelled consumer with unacked messages): warren's deliveryCount counts its
  // deliveries, and every delivery but the last ends in a return, so the two agree.

  /** publishes refused since the queue went over its length limit (x-overflow reject-publish) */
  private rejecting = false;

  /**
   * rabbit_fifo's reject-publish is a soft limit: a publish is taken while the queue is not over
   * its limit (so it may end one over: max-length 5 takes a 6th), refused once it is over, and
   * taken again only when the queue is down to 80% of the limit (rabbit_fifo's LOW_LIMIT).
   */
  private quorumAccepts(): boolean {
    const { maxLength, maxLengthBytes } = this.settings;
    const ready = this.ready.length;
    const bytes = this.ready.bytes;
    if ((maxLength !== undefined && ready > maxLength) || (maxLengthBytes !== undefined && bytes > maxLengthBytes)) this.rejecting = true;
    else if (this.rejecting && (maxLength === undefined || ready <= Math.trunc(maxLength * 0.8)) && (maxLengthBytes === undefined || bytes <= Math.trunc(maxLengthBytes * 0.8))) this.rejecting = false;
    return !this.rejecting;
  }

  /** rabbit_fifo:return_one: the return that makes delivery_count exceed the limit drops the message */
  private returnedTooOften(entry: QueueEntry): boolean {
    const limit = this.settings.deliveryLimit;
    return limit !== undefined && entry.deliveryCount > limit;
  }

  /**
   * The message as a consumer of this queue receives it: a quorum queue adds the header
   * x-delivery-count (long) with the number of earlier returns — to a basic.deliver once the
   * message was returned at least once, to every basic.get (0 the first time). Classic queues,
   * and first deliveries, send the publisher's message untouched (no copy on the hot path).
   */
  outgoing(entry: QueueEntry, get: boolean): Message {
    if (!this.quorum || (entry.deliveryCount === 0 && !get)) return entry.msg;
    return withDeliveryCount(entry.msg, entry.deliveryCount);
  }

  // ---- management --------------------------------------------------------

  purge(): number {
    this.flow?.release();
    const n = this.ready.clear((e) => this.release(e.msg));
    if (n >= LARGE_RELEASE) collectGarbageSoon();
    return n;
  }

  /** Mark deleted and drop ready messages; consumers are cancelled by the caller. */
  destroy(): number {
    this.deleted = true;
    this.flow?.release();
    if (this.ttlTimer) clearTimeout(this.ttlTimer);
    if (this.expiresTimer) clearTimeout(this.expiresTimer);
    const n = this.ready.clear((e) => {
      e.msg.refs--;
      if (isPagedId(e.msg.storeId)) this.store?.releasePaged(e.msg.storeId);
    });
    if (n >= LARGE_RELEASE) collectGarbageSoon();
    if (this.durable && this.store) this.store.deleteQueue(this.key);
    return n;
  }
}
