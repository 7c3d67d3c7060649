/**
 * Semantics: queue lifecycle and counts — exclusive queues (owned by the
 * declaring connection, deleted when it closes), auto-delete (only after a
 * consumer has come and gone), declare-ok/purge-ok/delete-ok message counts,
 * delete if-unused/if-empty when the condition holds, server-named queues, and
 * the empty queue name meaning "the queue last declared on this channel".
 * (Refusals with their reply codes are in test/wire/queue-errors.test.ts.)
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import type amqp from "amqplib";
import { semBroker, drain, uniq, rejectsWith, queueExists, waitUntil, sleep, type Sem } from "./sem-helpers.js";

let sem: Sem;
let conn: amqp.ChannelModel;
before(async () => {
  sem = await semBroker("queues");
  conn = await sem.connect();
});
after(async () => {
  await sem?.stop();
});

const chan = () => sem.channel(conn);

// An exclusive queue is locked to its connection (405 for others) and is
// deleted when that connection closes; then anyone may declare the name.
test("exclusive queue: locked to its connection, deleted when it closes", async () => {
  const q = uniq("excl");
  const owner = await sem.connect();
  const och = await owner.createChannel();
  await och.assertQueue(q, { exclusive: true });
  och.sendToQueue(q, Buffer.from("m"));
  assert.equal(await rejectsWith((await chan()).checkQueue(q)), 405);
  assert.equal(await rejectsWith((await chan()).assertQueue(q, { exclusive: true })), 405);
  await owner.close();
  await waitUntil(async () => !(await queueExists(conn, q)), 2000, "exclusive queue deleted");
  const ch = await chan();
  const ok = await ch.assertQueue(q, { exclusive: true });
  assert.equal(ok.messageCount, 0, "a new queue, not the old one");
  await ch.deleteQueue(q);
});

// auto-delete: a queue that never had a consumer stays; it is deleted when
// its last consumer is cancelled, not while another remains.
test("auto-delete queue deleted after its last consumer cancels", async () => {
  const q = uniq("autodel");
  const ch = await chan();
  await ch.assertQueue(q, { durable: false, autoDelete: true });
  // let time pass: a never-consumed auto-delete queue must not go away by itself
  await sleep(100);
  assert.equal(await queueExists(conn, q), true, "never consumed: kept");
  const c1 = await ch.consume(q, () => {});
  const c2 = await ch.consume(q, () => {});
  await ch.cancel(c1.consumerTag);
  assert.equal(await queueExists(conn, q), true, "one consumer left");
  await ch.cancel(c2.consumerTag);
  await waitUntil(async () => !(await queueExists(conn, q)), 2000, "auto-delete queue deleted");
});

// Closing the consumer's channel counts as cancelling: the auto-delete queue
// goes, with its remaining messages.
test("auto-delete queue deleted when its consumer's channel closes", async () => {
  const q = uniq("autodel-close");
  const ch = await chan();
  await ch.assertQueue(q, { durable: false, autoDelete: true });
  await ch.consume(q, () => {});
  await ch.close();
  await waitUntil(async () => !(await queueExists(conn, q)), 2000, "auto-delete queue deleted");
});

// declare-ok (passive too) counts ready messages only — not unacked ones — and
// consumers; purge removes ready messages only and says how many.
test("declare-ok and purge-ok counts exclude unacked messages", async () => {
  const q = uniq("counts");
  const ch = await chan();
  await ch.assertQueue(q, { durable: false });
  for (let i = 1; i <= 5; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
  const held = await ch.get(q, { noAck: false });
  assert.ok(held);
  const viewer = await chan();
  const ok = await viewer.checkQueue(q);
  assert.deepEqual([ok.messageCount, ok.consumerCount], [4, 0]);
  await viewer.consume(q, () => {}, { consumerTag: "c1" });
  // the consumer has no prefetch limit and took the 4 ready messages
  await waitUntil(async () => (await ch.checkQueue(q)).messageCount === 0, 2000);
  assert.equal((await ch.checkQueue(q)).consumerCount, 1);
  await viewer.cancel("c1");
  await viewer.close(); // its 4 unacked are requeued (asynchronously in RabbitMQ: poll)
  await waitUntil(async () => (await ch.checkQueue(q)).messageCount === 4, 2000, "requeued");
  const purged = await ch.purgeQueue(q);
  assert.equal(purged.messageCount, 4);
  ch.nack(held, false, true);
  assert.deepEqual(await drain(ch, q), ["m1"], "purge left the unacked message alone");
  await ch.deleteQueue(q);
});

// delete-ok reports the ready messages deleted; if-unused and if-empty succeed
// when the condition holds.
test("queue.delete message count, if-unused and if-empty when satisfied", async () => {
  const ch = await chan();
  const q1 = uniq("del");
  await ch.assertQueue(q1, { durable: false });
  for (let i = 0; i < 3; i++) ch.sendToQueue(q1, Buffer.from("x"));
  assert.equal((await ch.deleteQueue(q1, { ifUnused: true })).messageCount, 3);
  const q2 = uniq("del-empty");
  await ch.assertQueue(q2, { durable: false });
  const tag = (await ch.consume(q2, () => {})).consumerTag;
  assert.equal((await ch.deleteQueue(q2, { ifEmpty: true })).messageCount, 0);
  assert.equal(await queueExists(conn, q2), false);
  void tag;
});

// queue.declare with an empty name creates a server-named queue
// "amq.gen-" + 22 url-safe base64 characters, a new one each time.
test("server-named queues: amq.gen-…, distinct", async () => {
  const ch = await chan();
  const a = await ch.assertQueue("", { exclusive: true });
  const b = await ch.assertQueue("", { exclusive: true });
  assert.match(a.queue, /^amq\.gen-[A-Za-z0-9_-]{22}$/);
  assert.match(b.queue, /^amq\.gen-[A-Za-z0-9_-]{22}$/);
  assert.notEqual(a.queue, b.queue);
});

// An empty queue name in bind/get/consume/purge/delete means the queue most
// recently declared on this channel (and for queue.bind an empty routing key
// then means the queue's name). A passive declare is the exception: '' is
// looked up literally (404 "no queue ''").
test("empty queue name refers to the channel's last declared queue", async () => {
  const ch = await chan();
  const { queue: q } = await ch.assertQueue("", { exclusive: true });
  await ch.bindQueue("", "amq.direct", "");
  ch.publish("amq.direct", q, Buffer.from("via-bind"));
  const m = await ch.get("", { noAck: true });
  assert.ok(m);
  assert.equal(m.content.toString(), "via-bind");
  await ch.unbindQueue("", "amq.direct", "");
  ch.publish("amq.direct", q, Buffer.from("unbound"));
  assert.equal(await ch.get("", { noAck: true }), false);
  ch.sendToQueue(q, Buffer.from("a"));
  ch.sendToQueue(q, Buffer.from("b"));
  assert.equal((await ch.purgeQueue("")).messageCount, 2);
  ch.sendToQueue(q, Buffer.from("c"));
  const got: string[] = [];
  await ch.consume("", (msg) => msg && got.push(msg.content.toString()), { noAck: true });
  await waitUntil(() => got.length === 1, 2000);
  assert.deepEqual(got, ["c"]);
  await ch.deleteQueue("");
  assert.equal(await queueExists(conn, q), false);
  const ch2 = await chan();
  await ch2.assertQueue("", { exclusive: true });
  assert.equal(await rejectsWith(ch2.checkQueue("")), 404);
});
