/**
 * Generic routing, written once for every exchange type: follows
 * exchange-to-exchange bindings (cycle-safe), falls back to the alternate
 * exchange when an exchange matches nothing, adds CC/BCC routing keys (and
 * strips the BCC header), and de-duplicates queues. Then enqueues: a persistent message bound for durable
 * queues is handed to the store ONCE with the list of those queues.
 *
 * Hot path: no per-message allocation for a message that reaches one queue;
 * scratch arrays are reused through counts and queues are de-duplicated with an
 * epoch mark instead of a Set. (A fan-out copies its target list, because
 * dead-lettering re-enters the router, and a persistent message gets the list
 * of its durable queues.)
 */
import type { FieldTable } from "../amqp/field-table.js";
import { encodeProperties, type BasicProperties } from "../amqp/properties.js";
import type { Exchange, Destination } from "./exchanges/exchange.js";
import { isDeathCycle } from "./dead-letter.js";
import type { Message } from "./message.js";
import { Queue } from "./queue.js";
import type { VHost } from "./vhost.js";

export const ROUTED = 1;
/** the message was written to the store: confirm after store.sync() */
export const NEEDS_SYNC = 2;
/** at least one queue refused it (x-overflow reject-publish): nack the publisher */
export const REJECTED = 4;

let epoch = 0;

export class Router {
  // Scratch arrays, reused for every message with explicit counts: entries past a
  // count are stale and never read. (Resetting an array with `a.length = 0` makes V8
  // drop its backing store, so every message would allocate them all again.) A stale
  // entry may keep a deleted queue reachable until overwritten, at most the largest
  // fan-out ever routed.
  private readonly scratch: Destination[] = [];
  private readonly visited: Exchange[] = [];
  private nVisited = 0;
  /** the queues the last route() reached: matched[0 .. its return value) */
  readonly matched: Queue[] = [];
  private nMatched = 0;
  private readonly stripped: Stripped[] = [];
  private strippedNext = 0;

  constructor(private readonly vhost: VHost) {}

  /** Fill `this.matched` with the queues a message routes to from `ex`; returns how many. */
  route(ex: Exchange, routingKey: string, headers: FieldTable | undefined, bcc: string[] | null = null): number {
    const mark = ++epoch;
    this.nMatched = 0;
    this.nVisited = 0;
    let extra: string[] | null = null;
    if (headers !== undefined) {
      extra = addKeys(extra, headers["CC"]);
      extra = addKeys(extra, headers["BCC"]);
    }
    if (bcc !== null) extra = addKeys(extra, bcc);
    this.routeFrom(ex, routingKey, extra, headers, mark, 0);
    return this.nMatched;
  }

  /**
   * Route from `ex`, using scratch[start ..] for its destinations. With sender-selected keys
   * (CC/BCC), every exchange reached is routed with the routing key and all of them, as
   * rabbit_exchange:route does with a message's routing keys — also past exchange bindings.
   */
  private routeFrom(ex: Exchange, routingKey: string, extra: string[] | null, headers: FieldTable | undefined, mark: number, start: number): void {
    const visited = this.visited;
    for (let i = 0; i < this.nVisited; i++) if (visited[i] === ex) return;
    visited[this.nVisited++] = ex;
    const scratch = this.scratch;
    let end = this.routeOne(ex, routingKey, headers, start);
    if (extra !== null) for (let i = 0; i < extra.length; i++) end = this.routeOne(ex, extra[i]!, headers, end);
    if (end === start && ex.alternateExchange !== undefined) {
      const ae = this.vhost.exchanges.get(ex.alternateExchange);
      if (ae) this.routeFrom(ae, routingKey, extra, headers, mark, start);
    }
    for (let i = start; i < end; i++) {
      const d = scratch[i]!;
      if (d instanceof Queue) {
        if (d.routeMark !== mark) {
          d.routeMark = mark;
          this.matched[this.nMatched++] = d;
        }
      } else {
        // the nested walk uses the scratch space after ours
        this.routeFrom(d as Exchange, routingKey, extra, headers, mark, end);
      }
    }
  }

  /** One exchange, one key: destinations into scratch[at ..]; returns the new end. */
  private routeOne(ex: Exchange, key: string, headers: FieldTable | undefined, at: number): number {
    if (ex.name !== "") return ex.route(key, headers, this.scratch, at);
    const q = this.vhost.queues.get(key);
    if (q) this.scratch[at++] = q;
    return at;
  }

  /**
   * Route and enqueue. Returns a bit set of ROUTED / NEEDS_SYNC / REJECTED.
   * `dlReason` is set when dead-lettering: queues the message would cycle back
   * into without a rejection on the way are skipped (rabbit_dead_letter:detect_cycles).
   */
  publish(ex: Exchange, msg: Message, routingKey: string, dlReason: string | null = null): number {
    ex.publishIn++;
    const headers = msg.properties.headers;
    let n = this.route(ex, routingKey, headers, msg.bcc);
    // A fan-out works on its own copy: accepts() and Queue.publish() can dead-letter, which
    // routes again, re-entrantly, through this router and overwrites `matched`. (One queue
    // needs no copy: it is read before anything can re-enter.)
    const queues = n > 1 ? this.matched.slice(0, n) : this.matched;
    // BCC adds routes but is never delivered (nor returned, nor stored), as in rabbit_basic
    if (headers !== undefined && headers["BCC"] !== undefined) this.stripBcc(msg);
    if (dlReason !== null && dlReason !== "rejected" && n > 0) {
      let k = 0;
      for (let i = 0; i < n; i++) if (!isDeathCycle(queues[i]!.name, msg.properties.headers)) queues[k++] = queues[i]!;
      n = k;
    }
    if (n === 0) return 0;
    let flags = ROUTED;
    // filter out queues that refuse (overflow) before anything is stored
    let k = 0;
    for (let i = 0; i < n; i++) {
      const q = queues[i]!;
      if (q.accepts(msg)) queues[k++] = q;
      else flags |= REJECTED;
    }
    n = k;
    if (n === 0) return flags;
    ex.publishOut++;
    const store = this.vhost.storeFor();
    if (store !== null) {
      // persistent messages for durable queues; for a quorum queue any message (RabbitMQ's quorum
      // queues keep transient messages across a restart too)
      const persistent = msg.properties.deliveryMode === 2;
      let durableKeys: string[] | null = null;
      // a queue homed on another node stores it there, not here
      for (let i = 0; i < n; i++) {
        const q = queues[i]!;
        if (q.durable && q.remote === null && (persistent || q.quorum)) (durableKeys ??= []).push(q.key);
      }
      if (durableKeys !== null) {
        store.persist(msg, durableKeys);
        flags |= NEEDS_SYNC;
      }
    }
    const now = msg.publishedAt;
    for (let i = 0; i < n; i++) queues[i]!.publish(msg, now);
    this.vhost.stats.publish++;
    return flags;
  }

  /**
   * Take the BCC header out of the properties (keeping its keys in msg.bcc). A publisher
   * sending the same property set again gets the same decoded object from its channel: the
   * stripped result of the last few is reused, so queued messages share one properties object,
   * one encoding and one key list (a paged-out queue then keeps one metadata set for them all).
   */
  private stripBcc(msg: Message): void {
    const from = msg.properties;
    const cache = this.stripped;
    let hit: Stripped | undefined;
    for (let i = 0; i < cache.length; i++) if (cache[i]!.from === from) hit = cache[i];
    if (hit === undefined) {
      const { BCC: bcc, ...rest } = from.headers!;
      const properties = { ...from, headers: rest };
      hit = { from, properties, raw: encodeProperties(properties), keys: addKeys(null, bcc) };
      cache[this.strippedNext++ % STRIPPED_CACHE] = hit;
    }
    if (hit.keys !== null) msg.bcc = hit.keys;
    msg.properties = hit.properties;
    msg.propertiesRaw = hit.raw;
  }
}

/** BCC-stripped property sets remembered per router (see Router.stripBcc) */
const STRIPPED_CACHE = 4;

interface Stripped {
  from: BasicProperties;
  properties: BasicProperties;
  raw: Buffer;
  keys: string[] | null;
}

/** Append the string routing keys of a CC/BCC array (rabbit_basic takes the longstr ones). */
function addKeys(keys: string[] | null, v: unknown): string[] | null {
  if (!Array.isArray(v)) return keys;
  for (const k of v) if (typeof k === "string") (keys ??= []).push(k);
  return keys;
}
