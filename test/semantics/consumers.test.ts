/**
 * Semantics: consumers — round-robin among equals, consumer priorities
 * (x-priority), exclusive consumers, single active consumer, server-generated
 * consumer tags, and the server-sent basic.cancel when a consumed queue is
 * deleted from another connection. (Reply codes of refused consumes are in
 * test/wire/basic-errors.test.ts.)
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import type amqp from "amqplib";
import { semBroker, Inbox, uniq, rejectsWith, type Sem } from "./sem-helpers.js";
import { waitFor } from "../helpers/wait.js";

let sem: Sem;
before(async () => {
  sem = await semBroker("consumers");
});
after(async () => {
  await sem?.stop();
});

const bodies = (b: Inbox<amqp.ConsumeMessage>) => b.items.map((m) => m.content.toString());

async function consumer(ch: amqp.Channel, q: string, opts: amqp.Options.Consume = {}): Promise<{ box: Inbox<amqp.ConsumeMessage>; tag: string }> {
  const box = new Inbox<amqp.ConsumeMessage>();
  const { consumerTag } = await ch.consume(q, (m) => m && box.push(m), opts);
  return { box, tag: consumerTag };
}

// Consumers of equal priority are served round-robin.
test("equal consumers share messages round-robin", async () => {
  const q = uniq("rr");
  const ch = await sem.channel();
  await ch.assertQueue(q, { durable: false });
  const a = await consumer(ch, q, { noAck: true });
  const b = await consumer(ch, q, { noAck: true });
  for (let i = 1; i <= 6; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
  await a.box.waitFor(3);
  await b.box.waitFor(3);
  assert.deepEqual(bodies(a.box), ["m1", "m3", "m5"]);
  assert.deepEqual(bodies(b.box), ["m2", "m4", "m6"]);
  await ch.deleteQueue(q);
});

// x-priority: the highest-priority consumer gets messages while it has
// prefetch capacity; lower ones only when it is blocked.
test("consumer priorities: higher priority served first, lower when it is full", async () => {
  const q = uniq("prio-consumers");
  const conn = await sem.connect();
  const setup = await sem.channel(conn);
  await setup.assertQueue(q, { durable: false });
  const chLow = await sem.channel(conn);
  await chLow.prefetch(100);
  const low = await consumer(chLow, q, { arguments: { "x-priority": 1 } });
  const chHigh = await sem.channel(conn);
  await chHigh.prefetch(3);
  const high = await consumer(chHigh, q, { arguments: { "x-priority": 5 } });
  for (let i = 1; i <= 8; i++) setup.sendToQueue(q, Buffer.from(`m${i}`));
  await low.box.waitFor(5);
  // the queue handed out all 8 (none ready): nothing more is on its way to either consumer
  await waitFor("all 8 delivered", async () => (await setup.checkQueue(q)).messageCount === 0 && high.box.items.length + low.box.items.length === 8);
  assert.deepEqual(bodies(high.box), ["m1", "m2", "m3"]);
  assert.deepEqual(bodies(low.box), ["m4", "m5", "m6", "m7", "m8"]);
  // room again at the high-priority consumer: it gets the next messages
  chHigh.ack(high.box.items[0]!);
  setup.sendToQueue(q, Buffer.from("m9"));
  await high.box.waitFor(4);
  assert.equal(bodies(high.box)[3], "m9");
  await setup.deleteQueue(q);
});

// An exclusive consumer keeps others out (403, channel closed) until it is
// cancelled; then another consumer may attach and receives the messages.
test("exclusive consumer: others refused until it cancels", async () => {
  const q = uniq("excl-consumer");
  const conn = await sem.connect();
  const ch = await sem.channel(conn);
  await ch.assertQueue(q, { durable: false });
  const a = await consumer(ch, q, { exclusive: true, noAck: true });
  const other = await sem.channel(conn);
  assert.equal(await rejectsWith(other.consume(q, () => {})), 403);
  await ch.cancel(a.tag);
  const ch2 = await sem.channel(conn);
  const b = await consumer(ch2, q, { noAck: true });
  ch2.sendToQueue(q, Buffer.from("after"));
  await b.box.waitFor(1);
  assert.deepEqual(bodies(b.box), ["after"]);
  await ch2.deleteQueue(q);
});

// x-single-active-consumer: only the first registered consumer gets messages;
// when it is cancelled, the next one takes over.
test("single active consumer: one consumer receives, the next takes over on cancel", async () => {
  const q = uniq("sac");
  const conn = await sem.connect();
  const ch = await sem.channel(conn);
  await ch.assertQueue(q, { durable: false, arguments: { "x-single-active-consumer": true } });
  const a = await consumer(ch, q, { noAck: true });
  const ch2 = await sem.channel(conn);
  const b = await consumer(ch2, q, { noAck: true });
  for (let i = 1; i <= 4; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
  await a.box.waitFor(4);
  // all 4 went to the active consumer: none is left for (or on its way to) the other
  await waitFor("all 4 delivered", async () => (await ch.checkQueue(q)).messageCount === 0);
  assert.equal(b.box.items.length, 0);
  // declare-ok counts both consumers
  assert.equal((await ch.checkQueue(q)).consumerCount, 2);
  await ch.cancel(a.tag);
  for (let i = 5; i <= 6; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
  await b.box.waitFor(2);
  assert.deepEqual(bodies(b.box), ["m5", "m6"]);
  await ch.deleteQueue(q);
});

// Single active consumer failover on channel close: the active consumer's
// unacked messages are requeued and go, in order, to the next consumer.
test("single active consumer: unacked messages move to the next consumer in order", async () => {
  const q = uniq("sac-close");
  const conn = await sem.connect();
  const setup = await sem.channel(conn);
  await setup.assertQueue(q, { durable: false, arguments: { "x-single-active-consumer": true } });
  const chA = await sem.channel(conn);
  const a = await consumer(chA, q);
  const chB = await sem.channel(conn);
  const b = await consumer(chB, q);
  for (let i = 1; i <= 3; i++) setup.sendToQueue(q, Buffer.from(`m${i}`));
  await a.box.waitFor(3);
  chA.ack(a.box.items[0]!);
  await chA.close();
  await b.box.waitFor(2);
  assert.deepEqual(
    b.box.items.map((m) => `${m.content.toString()}:${m.fields.redelivered}`),
    ["m2:true", "m3:true"],
  );
  await setup.deleteQueue(q);
});

// Without a consumer tag the server generates one: "amq.ctag-" followed by
// 22 url-safe base64 characters, distinct for every consume.
test("server-generated consumer tags look like amq.ctag-…", async () => {
  const q = uniq("ctag");
  const ch = await sem.channel();
  await ch.assertQueue(q, { durable: false });
  const t1 = (await ch.consume(q, () => {})).consumerTag;
  const t2 = (await ch.consume(q, () => {})).consumerTag;
  assert.match(t1, /^amq\.ctag-[A-Za-z0-9_-]{22}$/);
  assert.match(t2, /^amq\.ctag-[A-Za-z0-9_-]{22}$/);
  assert.notEqual(t1, t2);
  // a client-chosen tag is used as given
  assert.equal((await ch.consume(q, () => {}, { consumerTag: "my-tag" })).consumerTag, "my-tag");
  await ch.deleteQueue(q);
});

// Deleting a queue from another connection sends basic.cancel to its
// consumers (amqplib: callback with null); their unacked deliveries can still
// be acked without error, and the channel stays usable.
test("queue deleted by another connection: consumer cancelled, channel open", async () => {
  const q = uniq("cancel-remote");
  const ch = await sem.channel();
  await ch.assertQueue(q, { durable: false });
  const seen = new Inbox<string | null>();
  let held: amqp.ConsumeMessage | null = null;
  await ch.consume(q, (m) => {
    if (m) held = m;
    seen.push(m ? m.content.toString() : null);
  });
  ch.sendToQueue(q, Buffer.from("one"));
  await seen.waitFor(1);
  const other = await sem.channel();
  await other.deleteQueue(q);
  assert.deepEqual(await seen.waitFor(2), ["one", null]);
  ch.ack(held!);
  // still open: a round trip succeeds
  await ch.assertQueue(q, { durable: false });
  await ch.deleteQueue(q);
});
