/**
 * Flow control: publishers are held back while a queue they publish to is congested — the
 * broker's analogue of RabbitMQ's credit flow (reader → channel → queue), which stops reading
 * a publisher's socket when the processes downstream of it fall behind.
 *
 * warren routes and enqueues synchronously, so nothing "falls behind" inside the broker the
 * way an Erlang mailbox does. What falls behind is the queue: with a consumer attached, an
 * unpaced publisher enqueues far faster than deliveries and acks make their round trips, the
 * backlog and the heap grow, and the garbage collector and paging then starve the very
 * consumers that would drain it. So a queue with consumers accepts a bounded backlog ahead of
 * them (the flow window); past it the queue's gate holds the connection that is publishing
 * (its socket stops being read: TCP back-pressure on that connection only) until the backlog
 * is below half the window. A queue without consumers is a buffer and takes everything
 * (bodies past the memory budget are paged to disk; the memory alarm is the last resort).
 *
 * A queue whose consumers stop taking messages altogether (none delivered for STALL_MS while
 * holding publishers: a consumer that never acks, a socket that stopped reading) stops
 * gating until it delivers again: a stuck consumer must not stop every producer for good.
 *
 * Owns: the gate/holder protocol and the stall rule. Does not own: what "congested" means for
 * a queue (queue.ts decides when to hold and release) or how a holder stops reading
 * (server/connection.ts pauses its socket).
 */

/** The connection side: something that can stop reading while a gate holds it. */
export interface FlowHolder {
  /** a gate holds this holder (called once per gate until released) */
  heldBy(gate: FlowGate): void;
  /** the gate let go of this holder */
  releasedBy(gate: FlowGate): void;
}

/**
 * Who is publishing right now: set by the publish path around routing one message, so a
 * queue deep inside the router can hold exactly the connection that sent it. (One thread:
 * routing is synchronous, so a module-level slot is safe and cheaper than passing it down.)
 */
export const publishing: { holder: FlowHolder | null } = { holder: null };

/** a gate whose queue delivered nothing for this long while holding publishers lets go */
export const STALL_MS = 1000;

/** gates currently holding someone, for the stall check */
const holdingGates = new Set<FlowGate>();

export class FlowGate {
  private holders: Set<FlowHolder> | null = null;
  /** delivered count seen at the last stall check, and when it last changed */
  private lastDelivered = -1;
  private progressAt = 0;
  /** the consumers stopped taking messages: do not gate until they deliver again */
  stalled = false;

  /** @param delivered the owning queue's count of deliveries so far (for the stall rule) */
  constructor(private readonly delivered: () => number) {}

  get holding(): boolean {
    return this.holders !== null && this.holders.size > 0;
  }

  /** Hold whoever is publishing now (no-op outside a publish, or while stalled). */
  hold(): void {
    const h = publishing.holder;
    if (h === null) return;
    if (this.stalled) {
      // gate again only once the queue's consumers have taken something since the stall
      if (this.delivered() === this.lastDelivered) return;
      this.stalled = false;
    }
    const hs = (this.holders ??= new Set());
    if (hs.has(h)) return;
    if (hs.size === 0) {
      holdingGates.add(this);
      this.lastDelivered = this.delivered();
      this.progressAt = Date.now();
    }
    hs.add(h);
    h.heldBy(this);
  }

  /** Let every holder go (backlog under the low mark, consumers gone, queue deleted). */
  release(): void {
    const hs = this.holders;
    if (hs === null || hs.size === 0) return;
    this.holders = null;
    holdingGates.delete(this);
    for (const h of hs) h.releasedBy(this);
  }

  /** A holder went away (connection closed): forget it without calling back. */
  forget(h: FlowHolder): void {
    if (this.holders?.delete(h) && this.holders.size === 0) holdingGates.delete(this);
  }

  /** Stall rule, from the server's coarse ticker. */
  check(now: number): void {
    const d = this.delivered();
    if (d !== this.lastDelivered) {
      this.lastDelivered = d;
      this.progressAt = now;
      this.stalled = false;
      return;
    }
    if (this.holding && now - this.progressAt >= STALL_MS) {
      this.stalled = true;
      this.release();
    }
  }
}

/** Run the stall rule over every gate that holds publishers (coarse: every 250 ms). */
export function checkFlowGates(now: number): void {
  for (const g of holdingGates) g.check(now);
}
