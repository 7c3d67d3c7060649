/**
 * Routing unit tests for the exchange types. Each case states the RabbitMQ
 * behaviour it pins down (rabbit_exchange_type_topic / _headers / _direct / _fanout).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { TopicExchange } from "../../../src/broker/exchanges/topic.js";
import { HeadersExchange } from "../../../src/broker/exchanges/headers.js";
import { DirectExchange } from "../../../src/broker/exchanges/direct.js";
import { FanoutExchange } from "../../../src/broker/exchanges/fanout.js";
import type { Binding, Destination } from "../../../src/broker/exchanges/exchange.js";
import type { FieldTable } from "../../../src/amqp/field-table.js";
import { TypedValue } from "../../../src/amqp/field-table.js";

const opts = { durable: false, autoDelete: false, internal: false, arguments: {} };
function dest(name: string): Destination {
  return { name, kind: "queue", incoming: new Set<Binding>() };
}
function routed(ex: { route(rk: string, h: FieldTable | undefined, out: Destination[], n: number): number }, rk: string, headers?: FieldTable): string[] {
  // stale scratch entries before and after must be neither read nor kept
  const stale = dest("stale");
  const out: Destination[] = [stale, stale];
  const n = ex.route(rk, headers, out, 1);
  assert.equal(out[0], stale);
  return [...new Set(out.slice(1, n).map((d) => d.name))].sort();
}

test("topic: * matches exactly one word, # zero or more (RabbitMQ tutorial 5 table)", () => {
  const ex = new TopicExchange("/", "t", opts);
  const q1 = dest("q1"),
    q2 = dest("q2");
  ex.bind(q1, "*.orange.*", {});
  ex.bind(q2, "*.*.rabbit", {});
  ex.bind(q2, "lazy.#", {});
  assert.deepEqual(routed(ex, "quick.orange.rabbit"), ["q1", "q2"]);
  assert.deepEqual(routed(ex, "lazy.orange.elephant"), ["q1", "q2"]);
  assert.deepEqual(routed(ex, "quick.orange.fox"), ["q1"]);
  assert.deepEqual(routed(ex, "lazy.brown.fox"), ["q2"]);
  assert.deepEqual(routed(ex, "lazy.pink.rabbit"), ["q2"]);
  assert.deepEqual(routed(ex, "quick.brown.fox"), []);
  assert.deepEqual(routed(ex, "orange"), []);
  assert.deepEqual(routed(ex, "quick.orange.male.rabbit"), []);
  assert.deepEqual(routed(ex, "lazy.orange.male.rabbit"), ["q2"]);
  assert.deepEqual(routed(ex, "lazy"), ["q2"], "# matches zero words");
});

test("topic: '#' alone matches everything including the empty key; '' matches only ''", () => {
  const ex = new TopicExchange("/", "t", opts);
  const all = dest("all"),
    empty = dest("empty"),
    mid = dest("mid");
  ex.bind(all, "#", {});
  ex.bind(empty, "", {});
  ex.bind(mid, "a.#.z", {});
  assert.deepEqual(routed(ex, ""), ["all", "empty"]);
  assert.deepEqual(routed(ex, "a.z"), ["all", "mid"]);
  assert.deepEqual(routed(ex, "a.b.c.z"), ["all", "mid"]);
  assert.deepEqual(routed(ex, "a.b.c"), ["all"]);
});

test("topic: unbind prunes and stops routing; 100,000 bindings route by trie", () => {
  const ex = new TopicExchange("/", "t", opts);
  const qs = Array.from({ length: 100 }, (_, i) => dest(`q${i}`));
  for (let i = 0; i < 100_000; i++) ex.bind(qs[i % 100]!, `stock.s${i}.${i % 3 === 0 ? "*" : "nyse"}`, {});
  ex.bind(qs[7]!, "stock.#", {});
  assert.deepEqual(routed(ex, "stock.s300.nyse"), ["q0", "q7"]);
  assert.deepEqual(routed(ex, "stock.s301.nyse"), ["q1", "q7"]);
  assert.equal(ex.unbind(qs[0]!, "stock.s300.*", {}), true);
  assert.deepEqual(routed(ex, "stock.s300.nyse"), ["q7"]);
  assert.equal(ex.unbind(qs[0]!, "stock.s300.*", {}), false);
});

test("direct and fanout", () => {
  const d = new DirectExchange("/", "d", opts);
  const a = dest("a"),
    b = dest("b");
  d.bind(a, "error", {});
  d.bind(a, "info", {});
  d.bind(b, "error", {});
  assert.deepEqual(routed(d, "error"), ["a", "b"]);
  assert.deepEqual(routed(d, "info"), ["a"]);
  assert.deepEqual(routed(d, "warning"), []);
  d.unbind(a, "error", {});
  assert.deepEqual(routed(d, "error"), ["b"]);
  const f = new FanoutExchange("/", "f", opts);
  f.bind(a, "x", {});
  f.bind(b, "", {});
  assert.deepEqual(routed(f, "anything"), ["a", "b"]);
});

test("headers: x-match all/any and the -with-x variants; numbers compare by value", () => {
  const ex = new HeadersExchange("/", "h", opts);
  const all = dest("all"),
    any = dest("any"),
    allx = dest("allx"),
    anyx = dest("anyx");
  ex.bind(all, "", { "x-match": "all", format: "pdf", type: "report" });
  ex.bind(any, "", { "x-match": "any", format: "pdf", type: "log" });
  ex.bind(allx, "", { "x-match": "all-with-x", "x-tenant": "t1" });
  ex.bind(anyx, "", { "x-match": "any-with-x", "x-tenant": "t2", n: new TypedValue("b", 5) });
  assert.deepEqual(routed(ex, "", { format: "pdf", type: "report" }), ["all", "any"]);
  assert.deepEqual(routed(ex, "", { format: "pdf" }), ["any"]);
  assert.deepEqual(routed(ex, "", { type: "log" }), ["any"]);
  assert.deepEqual(routed(ex, "", { "x-tenant": "t1" }), ["allx"]);
  assert.deepEqual(routed(ex, "", { "x-tenant": "t2" }), ["anyx"]);
  assert.deepEqual(routed(ex, "", { n: 5 }), ["anyx"]);
  assert.deepEqual(routed(ex, "", undefined), []);
});
