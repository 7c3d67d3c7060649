/**
 * Headers exchange: bindings carry `x-match` (all | any | all-with-x | any-with-x)
 * and header values; a message matches on its headers, ignoring the routing key.
 * As in RabbitMQ, plain all/any ignore binding arguments starting with "x-"; the
 * -with-x variants include them. A binding argument of type void matches any value
 * of the header being present.
 */
import type { FieldTable, FieldValue } from "../../amqp/field-table.js";
import { fieldEquals } from "../args.js";
import { Exchange, type Binding, type Destination } from "./exchange.js";

interface Matcher {
  dest: Destination;
  any: boolean;
  keys: string[];
  values: FieldValue[];
  binding: Binding;
}

export class HeadersExchange extends Exchange {
  readonly type = "headers";
  private readonly matchers: Matcher[] = [];

  protected addRoute(b: Binding): void {
    const mode = String(b.arguments["x-match"] ?? "all");
    const withX = mode.endsWith("-with-x");
    const keys: string[] = [];
    const values: FieldValue[] = [];
    for (const [k, v] of Object.entries(b.arguments)) {
      if (k === "x-match") continue;
      if (!withX && k.startsWith("x-")) continue;
      keys.push(k);
      values.push(v);
    }
    this.matchers.push({ dest: b.destination, any: mode.startsWith("any"), keys, values, binding: b });
  }

  protected removeRoute(b: Binding): void {
    const i = this.matchers.findIndex((m) => m.binding.id === b.id);
    if (i >= 0) this.matchers.splice(i, 1);
  }

  route(_routingKey: string, headers: FieldTable | undefined, out: Destination[], n: number): number {
    const h = headers ?? {};
    for (const m of this.matchers) {
      if (matches(m, h)) out[n++] = m.dest;
    }
    return n;
  }
}

function matches(m: Matcher, h: FieldTable): boolean {
  if (m.keys.length === 0) return !m.any; // all of nothing matches; any of nothing does not
  for (let i = 0; i < m.keys.length; i++) {
    const k = m.keys[i]!;
    const present = Object.hasOwn(h, k);
    const want = m.values[i];
    const ok = present && (want === null || want === undefined || fieldEquals(h[k]!, want));
    if (m.any && ok) return true;
    if (!m.any && !ok) return false;
  }
  return !m.any;
}
