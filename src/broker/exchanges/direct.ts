/** Direct exchange: a destination receives a message when its binding key equals the routing key. */
import type { FieldTable } from "../../amqp/field-table.js";
import { Exchange, type Binding, type Destination } from "./exchange.js";

export class DirectExchange extends Exchange {
  readonly type = "direct";
  private readonly byKey = new Map<string, Destination[]>();

  protected addRoute(b: Binding): void {
    const list = this.byKey.get(b.routingKey);
    if (!list) this.byKey.set(b.routingKey, [b.destination]);
    else list.push(b.destination);
  }

  protected removeRoute(b: Binding): void {
    const list = this.byKey.get(b.routingKey);
    if (!list) return;
    const i = list.indexOf(b.destination);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byKey.delete(b.routingKey);
  }

  route(routingKey: string, _headers: FieldTable | undefined, out: Destination[], n: number): number {
    const list = this.byKey.get(routingKey);
    if (list) for (let i = 0; i < list.length; i++) out[n++] = list[i]!;
    return n;
  }
}
