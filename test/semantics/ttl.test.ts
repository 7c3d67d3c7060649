/**
 * Semantics: time to live — queue message TTL (x-message-ttl), per-message
 * expiration with RabbitMQ's head-of-queue expiry, TTL 0 ("deliver now or
 * never"), and queue expiry (x-expires) of an unused queue.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import type amqp from "amqplib";
import { semBroker, Inbox, drain, uniq, sleep, waitUntil, queueExists, type Sem } from "./sem-helpers.js";
import { waitFor } from "../helpers/wait.js";

let sem: Sem;
let conn: amqp.ChannelModel;
before(async () => {
  sem = await semBroker("ttl");
  conn = await sem.connect();
});
after(async () => {
  await sem?.stop();
});

const chan = () => sem.channel(conn);

// x-message-ttl: an expired message is never delivered, neither to basic.get
// nor to a consumer that attaches later; it is dead-lettered with reason
// "expired" (in publish order) when the queue has a DLX.
test("x-message-ttl: expired messages not delivered, dead-lettered as expired", async () => {
  const q = uniq("ttl");
  const dlq = uniq("ttl-dlq");
  const ch = await chan();
  await ch.assertQueue(dlq, { durable: false });
  await ch.assertQueue(q, { durable: false, arguments: { "x-message-ttl": 100, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq } });
  ch.sendToQueue(q, Buffer.from("a"));
  ch.sendToQueue(q, Buffer.from("b"));
  await waitUntil(async () => (await ch.checkQueue(dlq)).messageCount === 2, 3000, "both dead-lettered");
  const got: string[] = [];
  await ch.consume(q, (m) => m && got.push(m.content.toString()), { noAck: true });
  assert.equal(await ch.get(q, { noAck: true }), false);
  const dead: string[] = [];
  for (;;) {
    const m = await ch.get(dlq, { noAck: true });
    if (!m) break;
    const death = (m.properties.headers!["x-death"] as unknown as Array<Record<string, unknown>>)[0]!;
    dead.push(`${m.content.toString()}:${String(death["reason"])}`);
  }
  assert.deepEqual(dead, ["a:expired", "b:expired"]);
  // let time pass: an expired message must not reach the consumer late either (nothing to wait for)
  await sleep(100);
  assert.deepEqual(got, []);
  await ch.deleteQueue(q);
  await ch.deleteQueue(dlq);
});

// Per-message expiration: a message expires only when it reaches the head of
// the queue — a short-lived message behind a long-lived one is still counted,
// and is discarded (dead-lettered) once the one before it leaves.
test("per-message expiration takes effect at the head of the queue", async () => {
  const q = uniq("exp");
  const dlq = uniq("exp-dlq");
  const ch = await chan();
  await ch.assertQueue(dlq, { durable: false });
  await ch.assertQueue(q, { durable: false, arguments: { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq } });
  ch.sendToQueue(q, Buffer.from("long"), { expiration: "60000" });
  ch.sendToQueue(q, Buffer.from("short"), { expiration: "50" });
  // let time pass beyond the short TTL: it must NOT expire while behind the head (nothing happens)
  await sleep(300);
  assert.equal((await ch.checkQueue(q)).messageCount, 2, "short one still counted behind the head");
  assert.equal((await ch.checkQueue(dlq)).messageCount, 0);
  const head = await ch.get(q, { noAck: true });
  assert.ok(head);
  assert.equal(head.content.toString(), "long");
  assert.equal(head.properties.expiration, "60000", "expiration delivered as published");
  assert.equal(await ch.get(q, { noAck: true }), false);
  await waitUntil(async () => (await ch.checkQueue(dlq)).messageCount === 1, 2000, "short one dead-lettered");
  const dead = await ch.get(dlq, { noAck: true });
  assert.ok(dead);
  assert.equal(dead.content.toString(), "short");
  assert.equal(dead.properties.expiration, undefined, "expiration removed from the dead-lettered copy");
  const death = (dead.properties.headers!["x-death"] as unknown as Array<Record<string, unknown>>)[0]!;
  assert.equal(death["reason"], "expired");
  assert.equal(death["original-expiration"], "50");
  await ch.deleteQueue(q);
  await ch.deleteQueue(dlq);
});

// The lower of queue TTL and per-message expiration applies.
test("the lower of x-message-ttl and expiration wins", async () => {
  const q = uniq("ttl-min");
  const ch = await chan();
  await ch.assertQueue(q, { durable: false, arguments: { "x-message-ttl": 60000 } });
  ch.sendToQueue(q, Buffer.from("short"), { expiration: "30" });
  ch.sendToQueue(q, Buffer.from("plain"));
  // the 30 ms expiration, not the queue's 60 s, removes "short" from the head
  await waitFor("the message with the lower TTL to expire", async () => (await ch.checkQueue(q)).messageCount === 1);
  assert.deepEqual(await drain(ch, q), ["plain"]);
  await ch.deleteQueue(q);
});

// TTL 0 (queue or message): delivered only if a consumer can take it at once;
// otherwise expired immediately.
test("TTL 0: delivered to a ready consumer, otherwise dropped at once", async () => {
  const q = uniq("ttl0");
  const ch = await chan();
  await ch.assertQueue(q, { durable: false, arguments: { "x-message-ttl": 0 } });
  ch.sendToQueue(q, Buffer.from("nobody"));
  assert.equal((await ch.checkQueue(q)).messageCount, 0);
  const inbox = new Inbox<string>();
  await ch.consume(q, (m) => m && inbox.push(m.content.toString()), { noAck: true });
  ch.sendToQueue(q, Buffer.from("ready"));
  assert.deepEqual(await inbox.waitFor(1), ["ready"]);
  // per-message expiration "0" on a queue without TTL
  const q2 = uniq("exp0");
  await ch.assertQueue(q2, { durable: false });
  ch.sendToQueue(q2, Buffer.from("gone"), { expiration: "0" });
  ch.sendToQueue(q2, Buffer.from("kept"));
  assert.deepEqual(await drain(ch, q2), ["kept"]);
  await ch.deleteQueue(q);
  await ch.deleteQueue(q2);
});

// A consumer whose prefetch window is full is not "ready": a TTL-0 message
// published then is dropped, not queued for later.
test("TTL 0 with a consumer at its prefetch limit: dropped", async () => {
  const q = uniq("ttl0-full");
  const ch = await chan();
  await ch.assertQueue(q, { durable: false, arguments: { "x-message-ttl": 0 } });
  await ch.prefetch(1);
  const inbox = new Inbox<amqp.ConsumeMessage>();
  await ch.consume(q, (m) => m && inbox.push(m), { noAck: false });
  ch.sendToQueue(q, Buffer.from("first"));
  await inbox.waitFor(1);
  ch.sendToQueue(q, Buffer.from("second"));
  await ch.checkQueue(q);
  ch.ack(inbox.items[0]!);
  // let time pass: the expired "second" must not be delivered after the ack (nothing happens)
  await sleep(200);
  assert.deepEqual(
    inbox.items.map((m) => m.content.toString()),
    ["first"],
  );
  await ch.deleteQueue(q);
});

// x-expires: a queue with no consumers that is not used (declared — even
// passively —, consumed, got from) for that long is deleted, with its messages.
test("x-expires deletes an unused queue; a passive declare renews the lease", async () => {
  const q = uniq("expires");
  const ch = await chan();
  await ch.assertQueue(q, { durable: false, arguments: { "x-expires": 400 } });
  ch.sendToQueue(q, Buffer.from("m"));
  // let time pass (less than x-expires each time): the queue must still be there, renewed by the
  // passive declares queueExists makes
  await sleep(250);
  assert.equal(await queueExists(conn, q), true);
  await sleep(250);
  assert.equal(await queueExists(conn, q), true, "renewed by the passive declare");
  // each check is a passive declare, which renews the lease: poll less often than x-expires
  await waitFor("the unused queue to expire", async () => !(await queueExists(conn, q)), 5000, 600);
});

// A consumer keeps an x-expires queue alive; after it cancels, the clock restarts.
test("x-expires: a consumed queue is kept, expires after the consumer leaves", async () => {
  const q = uniq("expires-consumed");
  const ch = await chan();
  await ch.assertQueue(q, { durable: false, arguments: { "x-expires": 200 } });
  const { consumerTag } = await ch.consume(q, () => {});
  // let time pass beyond x-expires: a consumed queue must stay
  await sleep(500);
  assert.equal(await queueExists(conn, q), true, "kept while consumed");
  await ch.cancel(consumerTag);
  await waitFor("the queue to expire after the cancel", async () => !(await queueExists(conn, q)), 5000, 400);
});
