/** Fanout exchange: every bound destination receives every message; keys are ignored. */
import type { FieldTable } from "../../amqp/field-table.js";
import { Exchange, type Binding, type Destination } from "./exchange.js";

export class FanoutExchange extends Exchange {
  readonly type = "fanout";
  private readonly dests: Destination[] = [];

  protected addRoute(b: Binding): void {
    this.dests.push(b.destination);
  }

  protected removeRoute(b: Binding): void {
    const i = this.dests.indexOf(b.destination);
    if (i >= 0) this.dests.splice(i, 1);
  }

  route(_routingKey: string, _headers: FieldTable | undefined, out: Destination[], n: number): number {
    for (let i = 0; i < this.dests.length; i++) out[n++] = this.dests[i]!;
    return n;
  }
}
