/**
 * Exchange base: bookkeeping of bindings shared by all exchange types. Each
 * type (one file each) implements only how a binding is indexed and how a
 * routing key / header set selects destinations. Generic routing
 * (exchange-to-exchange, alternate exchange, CC/BCC) lives in router.ts.
 *
 * Invariant: `bindings` holds exactly the bindings that the type's index holds.
 */
import type { FieldTable } from "../../amqp/field-table.js";
import { stableKey } from "../args.js";

/** Anything a binding can point at: a queue or an exchange. */
export interface Destination {
  readonly name: string;
  readonly kind: "queue" | "exchange";
  /** bindings that point at this destination (reverse index, for deletes) */
  readonly incoming: Set<Binding>;
}

export interface Binding {
  readonly source: Exchange;
  readonly destination: Destination;
  readonly routingKey: string;
  readonly arguments: FieldTable;
  /** identity within the source: kind, destination, key, args */
  readonly id: string;
}

export interface ExchangeOptions {
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: FieldTable;
}

export abstract class Exchange implements Destination {
  readonly kind = "exchange" as const;
  abstract readonly type: string;
  readonly bindings = new Map<string, Binding>();
  readonly incoming = new Set<Binding>();
  /** counters for the management API */
  publishIn = 0;
  publishOut = 0;
  /** alternate exchange name from arguments or policy, resolved at route time */
  alternateExchange: string | undefined;
  /** name of the policy in effect, if any */
  policy: string | undefined;

  constructor(
    readonly vhost: string,
    readonly name: string,
    readonly options: ExchangeOptions,
  ) {
    const ae = options.arguments["alternate-exchange"];
    this.alternateExchange = typeof ae === "string" ? ae : undefined;
  }

  get durable(): boolean {
    return this.options.durable;
  }
  get autoDelete(): boolean {
    return this.options.autoDelete;
  }
  get internal(): boolean {
    return this.options.internal;
  }

  /** Returns false if the identical binding already existed. */
  bind(destination: Destination, routingKey: string, args: FieldTable): boolean {
    const id = bindingId(destination, routingKey, args);
    if (this.bindings.has(id)) return false;
    const b: Binding = { source: this, destination, routingKey, arguments: args, id };
    this.bindings.set(id, b);
    destination.incoming.add(b);
    this.addRoute(b);
    return true;
  }

  /** Returns false if no such binding existed. */
  unbind(destination: Destination, routingKey: string, args: FieldTable): boolean {
    const id = bindingId(destination, routingKey, args);
    const b = this.bindings.get(id);
    if (!b) return false;
    this.bindings.delete(id);
    destination.incoming.delete(b);
    this.removeRoute(b);
    return true;
  }

  /** Remove one binding object (from the reverse index of a deleted destination). */
  removeBinding(b: Binding): void {
    if (!this.bindings.delete(b.id)) return;
    b.destination.incoming.delete(b);
    this.removeRoute(b);
  }

  /** Type-specific index maintenance. */
  protected abstract addRoute(b: Binding): void;
  protected abstract removeRoute(b: Binding): void;
  /**
   * Write every destination matching (routingKey, headers) into `out` from index
   * `n` on and return the index after the last one written. Entries of `out` at
   * and beyond `n` are stale scratch and may be overwritten. Duplicates are
   * allowed; the router de-duplicates.
   */
  abstract route(routingKey: string, headers: FieldTable | undefined, out: Destination[], n: number): number;
}

export function bindingId(d: Destination, routingKey: string, args: FieldTable): string {
  return `${d.kind[0]}\u0000${d.name}\u0000${routingKey}\u0000${stableKey(args)}`;
}
