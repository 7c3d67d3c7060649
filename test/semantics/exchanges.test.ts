/**
 * Semantics: exchanges — declare/passive/delete if-unused, auto-delete,
 * internal, exchange-to-exchange bindings (with cycles), alternate exchanges
 * (with chains), headers matching, CC/BCC, and what the default exchange
 * refuses. (Reply codes of the plain misuse cases are in
 * test/wire/exchange-errors.test.ts.)
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import type amqp from "amqplib";
import { semBroker, drain, uniq, rejectsWith, exchangeExists, queueExists, closedWith, sleep, waitUntil, type Sem } from "./sem-helpers.js";

let sem: Sem;
let conn: amqp.ChannelModel;
before(async () => {
  sem = await semBroker("exchanges");
  conn = await sem.connect();
});
after(async () => {
  await sem?.stop();
});

/** A fresh channel on the shared connection (a failed one does not harm the others). */
const chan = () => sem.channel(conn);

async function queue(ch: amqp.Channel, name = uniq("q")): Promise<string> {
  await ch.assertQueue(name, { durable: false, autoDelete: false });
  return name;
}

// Passive declare finds an existing exchange and never creates one; delete
// with if-unused succeeds on an exchange with no bindings.
test("exchange passive declare and delete if-unused", async () => {
  const x = uniq("x");
  const ch = await chan();
  assert.equal(await rejectsWith(ch.checkExchange(x)), 404);
  const ch2 = await chan();
  await ch2.assertExchange(x, "direct", { durable: false });
  await ch2.checkExchange(x);
  await ch2.deleteExchange(x, { ifUnused: true });
  assert.equal(await exchangeExists(conn, x), false);
});

// if-unused looks only at bindings whose source is the exchange: being the
// destination of an exchange-to-exchange binding does not make it "in use".
test("delete if-unused ignores bindings where the exchange is the destination", async () => {
  const src = uniq("x-src");
  const dst = uniq("x-dst");
  const ch = await chan();
  await ch.assertExchange(src, "fanout", { durable: false });
  await ch.assertExchange(dst, "fanout", { durable: false });
  await ch.bindExchange(dst, src, "");
  await ch.deleteExchange(dst, { ifUnused: true });
  assert.equal(await exchangeExists(conn, dst), false);
  // ... while the source, which had that binding, is unused again
  await ch.deleteExchange(src, { ifUnused: true });
});

// An auto-delete exchange is not deleted before it has had a binding; it is
// deleted when its last binding (as source) goes: by unbind or by the bound
// queue's deletion.
test("auto-delete exchange goes away with its last binding", async () => {
  const x = uniq("x-ad");
  const ch = await chan();
  await ch.assertExchange(x, "direct", { durable: false, autoDelete: true });
  // let time pass: a never-bound auto-delete exchange must not go away by itself
  await sleep(100);
  assert.equal(await exchangeExists(conn, x), true, "never bound: still there");
  const q1 = await queue(ch);
  const q2 = await queue(ch);
  await ch.bindQueue(q1, x, "a");
  await ch.bindQueue(q2, x, "b");
  await ch.unbindQueue(q1, x, "a");
  assert.equal(await exchangeExists(conn, x), true, "one binding left");
  await ch.deleteQueue(q2);
  assert.equal(await exchangeExists(conn, x), false, "last binding gone with its queue");
  await ch.deleteQueue(q1);
});

// An internal exchange refuses direct publishes (403, channel closed) but
// receives messages through an exchange-to-exchange binding.
test("internal exchange reachable only through an exchange binding", async () => {
  const front = uniq("x-front");
  const inner = uniq("x-internal");
  const ch = await chan();
  await ch.assertExchange(front, "fanout", { durable: false });
  await ch.assertExchange(inner, "direct", { durable: false, internal: true });
  await ch.bindExchange(inner, front, "");
  const q = await queue(ch);
  await ch.bindQueue(q, inner, "k");
  ch.publish(front, "k", Buffer.from("via-front"));
  ch.publish(front, "other", Buffer.from("not-k"));
  await ch.checkQueue(q);
  assert.deepEqual(await drain(ch, q), ["via-front"]);
  const bad = await chan();
  const closed = new Promise<number>((r) => bad.once("error", (e: { code: number }) => r(e.code)));
  bad.publish(inner, "k", Buffer.from("direct"));
  assert.equal(await closed, 403);
  await ch.deleteQueue(q);
  await ch.deleteExchange(inner);
  await ch.deleteExchange(front);
});

// Exchange-to-exchange bindings may form cycles: routing visits each exchange
// once and a queue reachable by several paths gets one copy.
test("exchange binding cycles: each queue gets one copy", async () => {
  const a = uniq("x-a");
  const b = uniq("x-b");
  const ch = await chan();
  await ch.assertExchange(a, "fanout", { durable: false });
  await ch.assertExchange(b, "fanout", { durable: false });
  await ch.bindExchange(b, a, "");
  await ch.bindExchange(a, b, "");
  const q = await queue(ch);
  await ch.bindQueue(q, a, "");
  await ch.bindQueue(q, b, "");
  ch.publish(a, "", Buffer.from("from-a"));
  ch.publish(b, "", Buffer.from("from-b"));
  await ch.checkQueue(q);
  assert.deepEqual(await drain(ch, q), ["from-a", "from-b"]);
  await ch.deleteQueue(q);
  await ch.deleteExchange(a);
  await ch.deleteExchange(b);
});

// Topic exchange bound to a direct exchange: the routing key is matched at
// every hop with the original key.
test("exchange bindings route with the message's routing key at each hop", async () => {
  const t = uniq("x-topic");
  const d = uniq("x-direct");
  const ch = await chan();
  await ch.assertExchange(t, "topic", { durable: false });
  await ch.assertExchange(d, "direct", { durable: false });
  await ch.bindExchange(d, t, "logs.*");
  const q = await queue(ch);
  await ch.bindQueue(q, d, "logs.error");
  for (const rk of ["logs.error", "logs.info", "other.error"]) ch.publish(t, rk, Buffer.from(rk));
  await ch.checkQueue(q);
  assert.deepEqual(await drain(ch, q), ["logs.error"]);
  await ch.deleteQueue(q);
  await ch.deleteExchange(t);
  await ch.deleteExchange(d);
});

// alternate-exchange: what the exchange cannot route goes to its AE, and on
// along a chain of AEs; a message routed through an AE counts as routed
// (a mandatory publish is not returned).
test("alternate exchange chain catches unroutable messages; no basic.return", async () => {
  const x1 = uniq("x-ae1");
  const x2 = uniq("x-ae2");
  const x3 = uniq("x-ae3");
  const ch = await chan();
  await ch.assertExchange(x3, "fanout", { durable: false });
  await ch.assertExchange(x2, "direct", { durable: false, alternateExchange: x3 });
  await ch.assertExchange(x1, "direct", { durable: false, alternateExchange: x2 });
  const routed = await queue(ch);
  const caught2 = await queue(ch);
  const caught3 = await queue(ch);
  await ch.bindQueue(routed, x1, "r");
  await ch.bindQueue(caught2, x2, "two");
  await ch.bindQueue(caught3, x3, "");
  const returned: string[] = [];
  ch.on("return", (m: amqp.Message) => returned.push(m.content.toString()));
  ch.publish(x1, "r", Buffer.from("r"), { mandatory: true });
  ch.publish(x1, "two", Buffer.from("two"), { mandatory: true });
  ch.publish(x1, "zzz", Buffer.from("zzz"), { mandatory: true });
  await ch.checkQueue(routed);
  assert.deepEqual(await drain(ch, routed), ["r"]);
  assert.deepEqual(await drain(ch, caught2), ["two"]);
  assert.deepEqual(await drain(ch, caught3), ["zzz"]);
  assert.deepEqual(returned, []);
  for (const q of [routed, caught2, caught3]) await ch.deleteQueue(q);
  for (const x of [x1, x2, x3]) await ch.deleteExchange(x);
});

// Alternate exchanges pointing at each other, or at a missing exchange, do not
// loop: the message is unroutable (returned when mandatory).
test("alternate exchange cycle or missing AE: message returned as unroutable", async () => {
  const x1 = uniq("x-aec1");
  const x2 = uniq("x-aec2");
  const x3 = uniq("x-aemissing");
  const ch = await chan();
  await ch.assertExchange(x1, "direct", { durable: false, alternateExchange: x2 });
  await ch.assertExchange(x2, "direct", { durable: false, alternateExchange: x1 });
  await ch.assertExchange(x3, "direct", { durable: false, alternateExchange: uniq("nowhere") });
  const returned: string[] = [];
  ch.on("return", (m: amqp.Message) => returned.push(`${(m.fields as unknown as { replyCode: number }).replyCode}:${m.content.toString()}`));
  ch.publish(x1, "k", Buffer.from("cycle"), { mandatory: true });
  ch.publish(x3, "k", Buffer.from("missing"), { mandatory: true });
  await ch.checkExchange(x1);
  assert.deepEqual(returned, ["312:cycle", "312:missing"]);
  for (const x of [x1, x2, x3]) await ch.deleteExchange(x);
});

// Headers exchange: x-match all needs every listed header with equal values,
// any needs one; plain all/any ignore "x-" binding keys, any-with-x /
// all-with-x include them; an "all" binding with no keys matches everything.
test("headers exchange: x-match all, any, all-with-x, any-with-x", async () => {
  const x = uniq("x-headers");
  const ch = await chan();
  await ch.assertExchange(x, "headers", { durable: false });
  const qAll = await queue(ch);
  const qAny = await queue(ch);
  const qAnyX = await queue(ch);
  const qAllX = await queue(ch);
  const qAllIgnoringX = await queue(ch);
  const qEmpty = await queue(ch);
  await ch.bindQueue(qAll, x, "", { "x-match": "all", format: "pdf", type: "report" });
  await ch.bindQueue(qAny, x, "", { "x-match": "any", format: "pdf", type: "report" });
  await ch.bindQueue(qAnyX, x, "", { "x-match": "any-with-x", "x-tenant": "acme" });
  await ch.bindQueue(qAllX, x, "", { "x-match": "all-with-x", "x-tenant": "acme", format: "pdf" });
  await ch.bindQueue(qAllIgnoringX, x, "", { "x-match": "all", "x-tenant": "acme", format: "pdf" });
  await ch.bindQueue(qEmpty, x, "");
  const pub = (name: string, headers: Record<string, unknown>) => ch.publish(x, "ignored", Buffer.from(name), { headers });
  pub("both", { format: "pdf", type: "report" });
  pub("format-only", { format: "pdf" });
  pub("wrong-value", { format: "zip", type: "log" });
  pub("tenant", { "x-tenant": "acme" });
  pub("tenant-pdf", { "x-tenant": "acme", format: "pdf" });
  pub("other-tenant-pdf", { "x-tenant": "other", format: "pdf" });
  await ch.checkQueue(qAll);
  assert.deepEqual(await drain(ch, qAll), ["both"]);
  assert.deepEqual(await drain(ch, qAny), ["both", "format-only", "tenant-pdf", "other-tenant-pdf"]);
  assert.deepEqual(await drain(ch, qAnyX), ["tenant", "tenant-pdf"]);
  assert.deepEqual(await drain(ch, qAllX), ["tenant-pdf"]);
  assert.deepEqual(await drain(ch, qAllIgnoringX), ["both", "format-only", "tenant-pdf", "other-tenant-pdf"]);
  assert.deepEqual(await drain(ch, qEmpty), ["both", "format-only", "wrong-value", "tenant", "tenant-pdf", "other-tenant-pdf"]);
  for (const q of [qAll, qAny, qAnyX, qAllX, qAllIgnoringX, qEmpty]) await ch.deleteQueue(q);
  await ch.deleteExchange(x);
});

// CC and BCC headers add routing keys; the CC header is delivered as sent, the
// BCC header is removed before delivery. Each queue gets one copy.
test("CC and BCC add routing keys; BCC is stripped before delivery", async () => {
  const x = uniq("x-cc");
  const ch = await chan();
  await ch.assertExchange(x, "direct", { durable: false });
  const qa = await queue(ch);
  const qb = await queue(ch);
  const qc = await queue(ch);
  await ch.bindQueue(qa, x, "a");
  await ch.bindQueue(qb, x, "b");
  await ch.bindQueue(qc, x, "c");
  ch.publish(x, "a", Buffer.from("m"), { CC: ["b", "a"], BCC: "c", headers: { keep: "me" } });
  await ch.checkQueue(qa);
  for (const q of [qa, qb, qc]) {
    const m = await ch.get(q, { noAck: true });
    assert.ok(m, `message in ${q}`);
    assert.equal(m.fields.routingKey, "a");
    assert.deepEqual(m.properties.headers, { keep: "me", CC: ["b", "a"] });
    assert.equal(await ch.get(q, { noAck: true }), false, "exactly one copy");
  }
  for (const q of [qa, qb, qc]) await ch.deleteQueue(q);
  await ch.deleteExchange(x);
});

// The default exchange routes by queue name only: it cannot be bound or
// unbound (403) and cannot be the source or destination of an exchange binding.
test("default exchange refuses unbind and exchange bindings (403)", async () => {
  const ch = await chan();
  const q = await queue(ch);
  const x = uniq("x-def");
  await ch.assertExchange(x, "fanout", { durable: false });
  assert.equal(await rejectsWith((await chan()).unbindQueue(q, "", q)), 403);
  assert.equal(await rejectsWith((await chan()).bindExchange(x, "", "k")), 403);
  assert.equal(await rejectsWith((await chan()).bindExchange("", x, "k")), 403);
  // but publishing to it by queue name works, and to a missing queue drops silently
  ch.sendToQueue(q, Buffer.from("by-name"));
  ch.sendToQueue(uniq("nobody"), Buffer.from("lost"));
  await ch.checkQueue(q);
  assert.deepEqual(await drain(ch, q), ["by-name"]);
  await ch.deleteQueue(q);
  await ch.deleteExchange(x);
});

// The broker decodes a publish's exchange and routing key once per distinct
// value on a channel and writes them back into deliveries itself: back-to-back
// publishes whose arguments differ in one byte, or only in the mandatory flag,
// must still route and deliver exactly what each one named, in any script.
test("back-to-back publishes route by their own exchange and routing key (ASCII, UTF-8, 255 bytes)", async () => {
  const ch = await chan();
  const x = uniq("x-keys");
  await ch.assertExchange(x, "direct", { durable: false });
  const keys = ["k-a", "k-b", "k-a", "ключ-ü", "ключ-ä", "r".repeat(64), "r".repeat(65), "é".repeat(127) + "e"];
  const queues = new Map<string, string>();
  for (const k of new Set(keys)) {
    const q = await queue(ch);
    await ch.bindQueue(q, x, k);
    queues.set(k, q);
  }
  const consumer = await chan();
  const got: { key: string; exchange: string; body: string }[] = [];
  for (const q of queues.values()) {
    await consumer.consume(q, (m) => m && got.push({ key: m.fields.routingKey, exchange: m.fields.exchange, body: m.content.toString() }), { noAck: true });
  }
  keys.forEach((k, i) => ch.publish(x, k, Buffer.from(`${i}`), { mandatory: i % 2 === 0 }));
  // and one to the default exchange between them, which must not reuse the previous exchange
  ch.publish("", queues.get("k-b")!, Buffer.from("default"));
  await waitUntil(() => got.length === keys.length + 1, 5000, "deliveries");
  for (const [i, k] of keys.entries()) {
    const d = got.find((g) => g.body === `${i}`);
    assert.deepEqual(d, { key: k, exchange: x, body: `${i}` }, `publish ${i} (${k.slice(0, 10)}…)`);
  }
  assert.deepEqual(
    got.find((g) => g.body === "default"),
    { key: queues.get("k-b")!, exchange: "", body: "default" },
  );
});

// rabbit_channel:strip_cr_lf: CR and LF are removed from exchange and queue names in declare
// (passive too), bind, unbind and delete — "e\nxc\rhange" is "exchange" — while publish, get,
// consume and purge take names as sent.
test("CR and LF are stripped from names in declare, bind, unbind and delete", async () => {
  const base = uniq("crlf");
  const x = `${base}-x`;
  const q = `${base}-q`;
  const ch = await chan();
  await ch.assertExchange(`${base}\n-\rx\n\r`, "direct", { durable: false });
  assert.equal(await exchangeExists(conn, x), true, "exchange declared under the stripped name");
  const ok = await ch.assertQueue(`\r${base}-\nq`, { durable: false });
  assert.equal(ok.queue, q, "declare-ok carries the stripped queue name");
  await ch.checkQueue(`${base}-q\n`);
  await ch.checkExchange(`${base}-x\r`);
  await ch.bindQueue(`${base}\n-q`, `${base}-\rx`, "k");
  ch.publish(x, "k", Buffer.from("routed"));
  await waitUntil(async () => (await ch.checkQueue(q)).messageCount === 1, 2000, "message routed through the binding");
  await ch.unbindQueue(`${base}-q\r\n`, `\n${base}-x`, "k");
  ch.publish(x, "k", Buffer.from("unrouted"));
  assert.deepEqual(await drain(ch, q), ["routed"]);
  // publish takes the exchange name as sent: 404
  const pub = await chan();
  pub.publish(`${base}-\nx`, "k", Buffer.from("x"));
  assert.equal(await closedWith(pub), 404);
  await ch.deleteQueue(`${base}-\nq`);
  await ch.deleteExchange(`${base}\r-x`);
  assert.equal(await exchangeExists(conn, x), false, "exchange.delete strips too");
  assert.equal(await queueExists(conn, q), false, "queue.delete strips too");
});

// RabbitMQ 3.10: unbinding something that is not bound — a missing binding, queue or
// exchange — is unbind-ok (queue.unbind and exchange.unbind alike).
test("unbind of a missing binding, queue or exchange is unbind-ok", async () => {
  const ch = await chan();
  const q = await queue(ch);
  await ch.unbindQueue(q, "amq.direct", "never-bound");
  await ch.unbindQueue(uniq("no-such-queue"), "amq.direct", "k");
  await ch.unbindQueue(q, uniq("no-such-exchange"), "k");
  await ch.unbindQueue(uniq("no-such-queue"), uniq("no-such-exchange"), "k");
  await ch.unbindExchange(uniq("no-such-dest"), "amq.direct", "k");
  await ch.unbindExchange("amq.fanout", uniq("no-such-source"), "k");
  await ch.unbindExchange("amq.fanout", "amq.direct", "never-bound");
  await ch.deleteQueue(q);
});

// rabbit_exchange_type_topic: the empty routing key has no words — "#" (zero or more words)
// and the empty binding key match it, "*" (exactly one word), "#.*" and "*.#" do not.
test("topic exchange: the empty routing key is zero words", async () => {
  const x = uniq("topic-empty");
  const ch = await chan();
  await ch.assertExchange(x, "topic", { durable: false });
  const bound: Record<string, string> = {};
  for (const key of ["#", "*", "#.*", "*.#", "", "#.#"]) {
    bound[key] = await queue(ch);
    await ch.bindQueue(bound[key]!, x, key);
  }
  ch.publish(x, "", Buffer.from("empty"));
  ch.publish(x, "a", Buffer.from("one word"));
  await waitUntil(async () => (await ch.checkQueue(bound["#"]!)).messageCount === 2, 2000, "both messages at '#'");
  const got: Record<string, string[]> = {};
  for (const [key, q] of Object.entries(bound)) got[key] = await drain(ch, q);
  assert.deepEqual(got, {
    "#": ["empty", "one word"],
    "*": ["one word"],
    "#.*": ["one word"],
    "*.#": ["one word"],
    "": ["empty"],
    "#.#": ["empty", "one word"],
  });
  for (const q of Object.values(bound)) await ch.deleteQueue(q);
  await ch.deleteExchange(x);
});

// rabbit_exchange:route routes every exchange it reaches with all of a message's routing keys
// (the routing key plus CC and BCC): a CC key applies past an exchange-to-exchange binding that
// matched on the routing key.
test("CC and BCC keys apply at exchanges reached through exchange bindings", async () => {
  const x1 = uniq("cc-src");
  const x2 = uniq("cc-dst");
  const ch = await chan();
  await ch.assertExchange(x1, "direct", { durable: false });
  await ch.assertExchange(x2, "direct", { durable: false });
  await ch.bindExchange(x2, x1, "main");
  const qc = await queue(ch);
  const qb = await queue(ch);
  await ch.bindQueue(qc, x2, "cc-key");
  await ch.bindQueue(qb, x2, "bcc-key");
  ch.publish(x1, "main", Buffer.from("cc"), { headers: { CC: ["cc-key"] } });
  ch.publish(x1, "main", Buffer.from("bcc"), { headers: { BCC: ["bcc-key"] } });
  await waitUntil(async () => (await ch.checkQueue(qb)).messageCount === 1, 2000, "BCC copy");
  assert.deepEqual(await drain(ch, qc), ["cc"]);
  const m = await ch.get(qb, { noAck: true });
  assert.ok(m);
  assert.equal(m.content.toString(), "bcc");
  assert.equal(m.properties.headers?.["BCC"], undefined, "BCC stripped");
  for (const q of [qc, qb]) await ch.deleteQueue(q);
  for (const x of [x2, x1]) await ch.deleteExchange(x);
});
