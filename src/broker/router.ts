/**
 * Generic routing, written once for every exchange type: follows
 * exchange-to-exchange bindings (cycle-safe), falls back to the alternate
 * exchange when an exchange matches nothing, adds CC/BCC routing keys (and
 * strips the BCC header), and de-duplicates queues. Then enqueues: a persistent message bound for durable
 * queues is handed to the store ONCE with the list of those queues.
 *
 * Hot path: no per-message allocation beyond the result; scratch arrays are
 * reused and queues are de-duplicated with an epoch mark instead of a Set.
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
  private readonly scratch: Destination[] = [];
  private readonly visited: Exchange[] = [];
  private readonly keys: string[] = [];
  private readonly durableKeys: string[] = [];
  readonly matched: Queue[] = [];

  constructor(private readonly vhost: VHost) {}

  /** Fill `this.matched` with the queues `msg` routes to from `ex`. */
  route(ex: Exchange, routingKey: string, headers: FieldTable | undefined, bcc: string[] | null = null): Queue[] {
    const out = this.matched;
    out.length = 0;
    const mark = ++epoch;
    const keys = this.keys;
    keys.length = 0;
    keys.push(routingKey);
    if (headers) {
      addKeys(keys, headers["CC"]);
      addKeys(keys, headers["BCC"]);
    }
    if (bcc !== null) addKeys(keys, bcc);
    for (let k = 0; k < keys.length; k++) {
      // each key walks the exchange graph afresh (CC keys may reach the same exchanges)
      this.visited.length = 0;
      this.routeFrom(ex, keys[k]!, headers, mark);
    }
    return out;
  }

  private routeFrom(ex: Exchange, routingKey: string, headers: FieldTable | undefined, mark: number): void {
    if (this.visited.includes(ex)) return;
    this.visited.push(ex);
    const start = this.scratch.length;
    if (ex.name === "") {
      const q = this.vhost.queues.get(routingKey);
      if (q) this.scratch.push(q);
    } else {
      ex.route(routingKey, headers, this.scratch);
    }
    const end = this.scratch.length;
    if (end === start && ex.alternateExchange !== undefined) {
      const ae = this.vhost.exchanges.get(ex.alternateExchange);
      if (ae) this.routeFrom(ae, routingKey, headers, mark);
    }
    for (let i = start; i < end; i++) {
      const d = this.scratch[i]!;
      if (d instanceof Queue) {
        if (d.routeMark !== mark) {
          d.routeMark = mark;
          this.matched.push(d);
        }
      } else {
        this.routeFrom(d as Exchange, routingKey, headers, mark);
      }
    }
    this.scratch.length = start;
  }

  /**
   * Route and enqueue. Returns a bit set of ROUTED / NEEDS_SYNC / REJECTED.
   * `dlReason` is set when dead-lettering: queues the message would cycle back
   * into without a rejection on the way are skipped (rabbit_dead_letter:detect_cycles).
   */
  publish(ex: Exchange, msg: Message, routingKey: string, dlReason: string | null = null): number {
    ex.publishIn++;
    const headers = msg.properties.headers;
    const queues = this.route(ex, routingKey, headers, msg.bcc);
    // BCC adds routes but is never delivered (nor returned, nor stored), as in rabbit_basic
    if (headers !== undefined && headers["BCC"] !== undefined) stripBcc(msg);
    if (dlReason !== null && dlReason !== "rejected" && queues.length > 0) {
      let k = 0;
      for (let i = 0; i < queues.length; i++) if (!isDeathCycle(queues[i]!.name, msg.properties.headers)) queues[k++] = queues[i]!;
      queues.length = k;
    }
    if (queues.length === 0) return 0;
    let flags = ROUTED;
    // filter out queues that refuse (overflow) before anything is stored
    let n = 0;
    for (let i = 0; i < queues.length; i++) {
      const q = queues[i]!;
      if (q.accepts(msg)) queues[n++] = q;
      else flags |= REJECTED;
    }
    queues.length = n;
    if (n === 0) return flags;
    ex.publishOut++;
    const store = this.vhost.storeFor();
    if (store && msg.properties.deliveryMode === 2) {
      const dk = this.durableKeys;
      dk.length = 0;
      for (let i = 0; i < n; i++) if (queues[i]!.durable) dk.push(queues[i]!.key);
      if (dk.length > 0) {
        store.persist(msg, dk);
        flags |= NEEDS_SYNC;
      }
    }
    const now = msg.publishedAt;
    // copy: enqueueing can deliver, and delivery can re-enter routing (direct reply-to, dead-letters)
    const targets = n === 1 ? null : queues.slice();
    if (targets === null) queues[0]!.publish(msg, now);
    else for (let i = 0; i < targets.length; i++) targets[i]!.publish(msg, now);
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
