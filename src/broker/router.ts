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
import { encodeProperties } from "../amqp/properties.js";
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

  constructor(private readonly vhost: VHost) {}

  /** Fill `this.matched` with the queues a message routes to from `ex`; returns how many. */
  route(ex: Exchange, routingKey: string, headers: FieldTable | undefined, bcc: string[] | null = null): number {
    const mark = ++epoch;
    this.nMatched = 0;
    this.nVisited = 0;
    this.routeFrom(ex, routingKey, headers, mark, 0);
    if (headers !== undefined) {
      this.routeKeys(ex, headers["CC"], headers, mark);
      this.routeKeys(ex, headers["BCC"], headers, mark);
    }
    if (bcc !== null) this.routeKeys(ex, bcc, headers, mark);
    return this.nMatched;
  }

  /** CC/BCC: each extra key walks the exchange graph afresh (it may reach the same exchanges). */
  private routeKeys(ex: Exchange, keys: unknown, headers: FieldTable | undefined, mark: number): void {
    if (!Array.isArray(keys)) return;
    for (const k of keys) {
      if (typeof k !== "string") continue;
      this.nVisited = 0;
      this.routeFrom(ex, k, headers, mark, 0);
    }
  }

  /** Route from `ex`, using scratch[start ..] for its destinations. */
  private routeFrom(ex: Exchange, routingKey: string, headers: FieldTable | undefined, mark: number, start: number): void {
    const visited = this.visited;
    for (let i = 0; i < this.nVisited; i++) if (visited[i] === ex) return;
    visited[this.nVisited++] = ex;
    const scratch = this.scratch;
    let end = start;
    if (ex.name === "") {
      const q = this.vhost.queues.get(routingKey);
      if (q) scratch[end++] = q;
    } else {
      end = ex.route(routingKey, headers, scratch, start);
    }
    if (end === start && ex.alternateExchange !== undefined) {
      const ae = this.vhost.exchanges.get(ex.alternateExchange);
      if (ae) this.routeFrom(ae, routingKey, headers, mark, start);
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
        this.routeFrom(d as Exchange, routingKey, headers, mark, end);
      }
    }
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
    if (headers !== undefined && headers["BCC"] !== undefined) stripBcc(msg);
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
    if (store && msg.properties.deliveryMode === 2) {
      let durableKeys: string[] | null = null;
      for (let i = 0; i < n; i++) if (queues[i]!.durable) (durableKeys ??= []).push(queues[i]!.key);
      if (durableKeys !== null) {
        store.persist(msg, durableKeys);
        flags |= NEEDS_SYNC;
      }
    }
    const now = msg.publishedAt;
    // a message routed to one queue only is that queue's alone: it may keep it in compact form
    const sole = n === 1;
    for (let i = 0; i < n; i++) queues[i]!.publish(msg, now, sole);
    this.vhost.stats.publish++;
    return flags;
  }
}

function stripBcc(msg: Message): void {
  const { BCC: bcc, ...rest } = msg.properties.headers!;
  if (Array.isArray(bcc)) {
    const keys: string[] = [];
    addKeys(keys, bcc);
    if (keys.length > 0) msg.bcc = keys;
  }
  msg.properties = { ...msg.properties, headers: rest };
  msg.propertiesRaw = encodeProperties(msg.properties);
}

function addKeys(keys: string[], v: unknown): void {
  if (Array.isArray(v)) for (const k of v) if (typeof k === "string") keys.push(k);
}
