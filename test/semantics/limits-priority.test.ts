/**
 * Semantics: queue length limits and priority queues — x-max-length and
 * x-max-length-bytes with each x-overflow mode (drop-head drops the oldest,
 * reject-publish refuses the newest and nacks a confirming publisher,
 * reject-publish-dlx also dead-letters it), and x-max-priority ordering.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import type amqp from "amqplib";
import { semBroker, drain, uniq, waitUntil, type Sem } from "./sem-helpers.js";

let sem: Sem;
let conn: amqp.ChannelModel;
before(async () => {
  sem = await semBroker("limits");
  conn = await sem.connect();
});
after(async () => {
  await sem?.stop();
});

const chan = () => sem.channel(conn);

/** Publish on a confirm channel; resolves "ack" or "nack" per message, in order. */
async function confirmAll(ch: amqp.ConfirmChannel, q: string, bodies: string[]): Promise<string[]> {
  return Promise.all(
    bodies.map(
      (b) =>
        new Promise<string>((resolve) => {
          ch.sendToQueue(q, Buffer.from(b), {}, (err) => resolve(err ? "nack" : "ack"));
        }),
    ),
  );
}

/** Publish one message to an exchange on a confirm channel; resolves "ack" or "nack". */
function confirmPublish(ch: amqp.ConfirmChannel, x: string, body: string): Promise<string> {
  return new Promise<string>((resolve) => ch.publish(x, "", Buffer.from(body), {}, (err) => resolve(err ? "nack" : "ack")));
}

/**
 * A fanout exchange bound to a full queue (max-length 0, these extra arguments) and
 * then to an open one: the full queue comes first in routing order.
 */
async function fanoutToFullAndOpen(ch: amqp.Channel, fullArgs: Record<string, unknown>): Promise<{ x: string; full: string; open: string }> {
  const x = uniq("x-fan");
  const full = uniq("full");
  const open = uniq("open");
  await ch.assertExchange(x, "fanout", { durable: false });
  await ch.assertQueue(full, { durable: false, arguments: { "x-max-length": 0, ...fullArgs } });
  await ch.assertQueue(open, { durable: false });
  await ch.bindQueue(full, x, "");
  await ch.bindQueue(open, x, "");
  return { x, full, open };
}

// drop-head (the default): the queue keeps the newest max-length messages.
test("x-max-length drop-head keeps the newest messages", async () => {
  const q = uniq("maxlen");
  const ch = await chan();
  await ch.assertQueue(q, { durable: false, arguments: { "x-max-length": 3 } });
  for (let i = 1; i <= 5; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
  assert.deepEqual(await drain(ch, q), ["m3", "m4", "m5"]);
  await ch.deleteQueue(q);
});

// x-max-length counts ready messages only: unacked ones do not hold space.
test("x-max-length counts ready messages, not unacked ones", async () => {
  const q = uniq("maxlen-unacked");
  const ch = await chan();
  await ch.assertQueue(q, { durable: false, arguments: { "x-max-length": 2 } });
  ch.sendToQueue(q, Buffer.from("m1"));
  const held = await ch.get(q, { noAck: false });
  assert.ok(held);
  for (let i = 2; i <= 3; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
  // (RabbitMQ answers a passive declare ahead of queued publishes: poll)
  await waitUntil(async () => (await ch.checkQueue(q)).messageCount === 2, 2000, "2 ready");
  ch.ack(held);
  assert.deepEqual(await drain(ch, q), ["m2", "m3"]);
  await ch.deleteQueue(q);
});

// rabbit_amqqueue_process:requeue_and_run → maybe_drop_head: requeued messages count against
// x-max-length again; the queue is trimmed from the head (where the requeued ones go back) and,
// with a dead-letter exchange, the dropped ones are dead-lettered with reason maxlen.
test("x-max-length is enforced when unacked messages are requeued (drop-head dead-letters them)", async () => {
  const q = uniq("maxlen-requeue");
  const dlq = uniq("maxlen-requeue-dl");
  const ch = await chan();
  await ch.assertQueue(dlq, { durable: false });
  await ch.assertQueue(q, { durable: false, arguments: { "x-max-length": 2, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq } });
  ch.sendToQueue(q, Buffer.from("m1"));
  ch.sendToQueue(q, Buffer.from("m2"));
  const h1 = await ch.get(q, { noAck: false });
  const h2 = await ch.get(q, { noAck: false });
  assert.ok(h1 && h2);
  ch.sendToQueue(q, Buffer.from("m3"));
  ch.sendToQueue(q, Buffer.from("m4"));
  await waitUntil(async () => (await ch.checkQueue(q)).messageCount === 2, 2000, "2 ready");
  ch.nackAll(true);
  await waitUntil(async () => (await ch.checkQueue(dlq)).messageCount === 2, 2000, "2 dead-lettered");
  assert.deepEqual(await drain(ch, q), ["m3", "m4"]);
  const dead: string[] = [];
  for (let i = 0; i < 2; i++) {
    const m = await ch.get(dlq, { noAck: true });
    assert.ok(m);
    dead.push(m.content.toString());
    assert.equal(m.properties.headers!["x-death"]![0]!.reason, "maxlen");
  }
  assert.deepEqual(dead.sort(), ["m1", "m2"]);
  await ch.deleteQueue(q);
  await ch.deleteQueue(dlq);
});

// x-max-length-bytes: the total body size of ready messages is bounded; the
// oldest are dropped until the new message fits.
test("x-max-length-bytes drops the oldest to fit", async () => {
  const q = uniq("maxbytes");
  const ch = await chan();
  await ch.assertQueue(q, { durable: false, arguments: { "x-max-length-bytes": 10 } });
  ch.sendToQueue(q, Buffer.from("aaaa")); // 4
  ch.sendToQueue(q, Buffer.from("bbbb")); // 8
  ch.sendToQueue(q, Buffer.from("cccc")); // 12 > 10: drop aaaa
  ch.sendToQueue(q, Buffer.from("dd")); // 10
  assert.deepEqual(await drain(ch, q), ["bbbb", "cccc", "dd"]);
  await ch.deleteQueue(q);
});

// reject-publish: a full queue refuses new messages; in confirm mode the
// publisher gets basic.nack for them (and basic.ack for the accepted ones).
test("x-overflow reject-publish: newest refused, publisher nacked", async () => {
  const q = uniq("reject-publish");
  const ch = await sem.confirmChannel(conn);
  await ch.assertQueue(q, { durable: false, arguments: { "x-max-length": 2, "x-overflow": "reject-publish" } });
  assert.deepEqual(await confirmAll(ch, q, ["m1", "m2", "m3", "m4"]), ["ack", "ack", "nack", "nack"]);
  const plain = await chan();
  assert.deepEqual(await drain(plain, q), ["m1", "m2"]);
  // room again: accepted
  assert.deepEqual(await confirmAll(ch, q, ["m5"]), ["ack"]);
  await ch.deleteQueue(q);
});

// The same with persistent messages on a durable queue: the accepted ones are confirmed after
// their fsync, the refused ones at once; every publish still gets exactly one answer, in
// RabbitMQ as here (a refusal must not swallow the acks of earlier publishes still on disk's way).
test("x-overflow reject-publish, persistent messages on a durable queue: acks of the stored ones, nacks of the refused", { timeout: 20_000 }, async () => {
  const q = uniq("reject-publish-durable");
  const ch = await sem.confirmChannel(conn);
  await ch.assertQueue(q, { durable: true, arguments: { "x-max-length": 2, "x-overflow": "reject-publish" } });
  const answers = await Promise.all(
    ["m1", "m2", "m3", "m4"].map((b) => new Promise<string>((resolve) => ch.sendToQueue(q, Buffer.from(b), { persistent: true }, (err) => resolve(err ? "nack" : "ack")))),
  );
  assert.deepEqual(answers, ["ack", "ack", "nack", "nack"]);
  const plain = await chan();
  assert.deepEqual(await drain(plain, q), ["m1", "m2"]);
  await ch.deleteQueue(q);
});

// reject-publish-dlx: like reject-publish, and the refused message is also
// dead-lettered (reason maxlen).
test("x-overflow reject-publish-dlx: refused message nacked and dead-lettered", async () => {
  const q = uniq("reject-dlx");
  const dlq = uniq("reject-dlx-dlq");
  const ch = await sem.confirmChannel(conn);
  await ch.assertQueue(dlq, { durable: false });
  await ch.assertQueue(q, {
    durable: false,
    arguments: {
      "x-max-length": 1,
      "x-overflow": "reject-publish-dlx",
      "x-dead-letter-exchange": "",
      "x-dead-letter-routing-key": dlq,
    },
  });
  assert.deepEqual(await confirmAll(ch, q, ["m1", "m2"]), ["ack", "nack"]);
  const plain = await chan();
  assert.deepEqual(await drain(plain, q), ["m1"]);
  let dead: amqp.GetMessage | false = false;
  await waitUntil(async () => (dead = await plain.get(dlq, { noAck: true })) !== false, 2000, "dead letter");
  const d = dead as unknown as amqp.GetMessage;
  assert.equal(d.content.toString(), "m2");
  const death = (d.properties.headers!["x-death"] as unknown as Array<Record<string, unknown>>)[0]!;
  assert.equal(death["reason"], "maxlen");
  await ch.deleteQueue(q);
  await ch.deleteQueue(dlq);
});

// reject-publish-dlx on one of several queues: dead-lettering happens while the
// message is still being routed to the others, and the dead letter itself fans
// out. Every queue gets exactly what it should: the open queue the message, each
// dead-letter queue one copy (reason maxlen), the full queue nothing.
test("reject-publish-dlx on one of several queues: others get it once, the dead letter fans out", async () => {
  const dlx = uniq("dlx-fan");
  const dead = [uniq("dead-a"), uniq("dead-b"), uniq("dead-c")];
  const ch = await sem.confirmChannel(conn);
  await ch.assertExchange(dlx, "fanout", { durable: false });
  for (const d of dead) {
    await ch.assertQueue(d, { durable: false });
    await ch.bindQueue(d, dlx, "");
  }
  // the full queue is routed first, so the open one is still to come when it dead-letters
  const { x, full, open } = await fanoutToFullAndOpen(ch, { "x-overflow": "reject-publish-dlx", "x-dead-letter-exchange": dlx });
  assert.equal(await confirmPublish(ch, x, "m"), "nack");
  const plain = await chan();
  await waitUntil(async () => (await plain.checkQueue(dead[2]!)).messageCount > 0, 2000, "dead letters");
  assert.deepEqual(await drain(plain, open), ["m"]);
  assert.deepEqual(await drain(plain, full), []);
  for (const d of dead) assert.deepEqual(await drain(plain, d), ["m"], d);
  for (const q of [full, open, ...dead]) await ch.deleteQueue(q);
  await ch.deleteExchange(x);
  await ch.deleteExchange(dlx);
});

// A message refused by one full queue is still delivered to the other queues
// it routes to, and the publisher is nacked.
test("reject-publish on one of several queues: others get it, publisher nacked", async () => {
  const ch = await sem.confirmChannel(conn);
  const { x, full, open } = await fanoutToFullAndOpen(ch, { "x-overflow": "reject-publish" });
  assert.equal(await confirmPublish(ch, x, "m"), "nack");
  const plain = await chan();
  assert.deepEqual(await drain(plain, open), ["m"]);
  assert.deepEqual(await drain(plain, full), []);
  await ch.deleteQueue(full);
  await ch.deleteQueue(open);
  await ch.deleteExchange(x);
});

// x-max-priority: higher priority first; equal priority in publish order;
// a priority above the maximum counts as the maximum; no priority is 0.
test("priority queue ordering", async () => {
  const q = uniq("prio");
  const ch = await chan();
  await ch.assertQueue(q, { durable: false, arguments: { "x-max-priority": 5 } });
  const pubs: Array<[string, number | undefined]> = [
    ["p0-a", undefined],
    ["p3-a", 3],
    ["p9-a", 9],
    ["p5-a", 5],
    ["p3-b", 3],
    ["p0-b", 0],
    ["p9-b", 9],
    ["p1", 1],
  ];
  for (const [b, p] of pubs) ch.sendToQueue(q, Buffer.from(b), p === undefined ? {} : { priority: p });
  assert.deepEqual(await drain(ch, q), ["p9-a", "p5-a", "p9-b", "p3-a", "p3-b", "p1", "p0-a", "p0-b"]);
  await ch.deleteQueue(q);
});

// A requeued message in a priority queue goes back ahead of later messages of
// its own priority, behind higher-priority ones.
test("priority queue: requeue keeps priority and position", async () => {
  const q = uniq("prio-requeue");
  const ch = await chan();
  await ch.assertQueue(q, { durable: false, arguments: { "x-max-priority": 5 } });
  ch.sendToQueue(q, Buffer.from("low-1"), { priority: 1 });
  ch.sendToQueue(q, Buffer.from("low-2"), { priority: 1 });
  const m = await ch.get(q, { noAck: false });
  assert.ok(m);
  ch.sendToQueue(q, Buffer.from("high"), { priority: 4 });
  ch.nack(m, false, true);
  assert.deepEqual(await drain(ch, q), ["high", "low-1", "low-2"]);
  await ch.deleteQueue(q);
});
