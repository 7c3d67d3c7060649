/**
 * Semantics: settlement — where requeued messages go, basic.recover, requeue
 * on channel close, and multiple acks/nacks (delivery tag 0 = everything).
 * Pins RabbitMQ 3.x classic-queue behaviour: a requeued message returns to its
 * original position (not the tail) with redelivered=true.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import type amqp from "amqplib";
import { semBroker, Inbox, drain, uniq, waitUntil, type Sem } from "./sem-helpers.js";

let sem: Sem;
before(async () => {
  sem = await semBroker("acks");
});
after(async () => {
  await sem?.stop();
});

async function fill(ch: amqp.Channel, q: string, n: number): Promise<void> {
  await ch.assertQueue(q, { durable: false });
  for (let i = 1; i <= n; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
  await ch.checkQueue(q);
}

async function getMsg(ch: amqp.Channel, q: string): Promise<amqp.GetMessage> {
  const m = await ch.get(q, { noAck: false });
  assert.ok(m, "expected a message");
  return m;
}

// nack/reject with requeue=true: each message goes back to its original
// position relative to the ready messages (m3 before m4), redelivered=true.
test("requeued messages return to their original position, redelivered", async () => {
  const q = uniq("requeue-pos");
  const ch = await sem.channel();
  await fill(ch, q, 5);
  const m1 = await getMsg(ch, q);
  const m2 = await getMsg(ch, q);
  const m3 = await getMsg(ch, q);
  ch.nack(m3, false, true);
  ch.reject(m1, true);
  await ch.checkQueue(q);
  const seen: string[] = [];
  for (let i = 0; i < 4; i++) {
    const m = await getMsg(ch, q);
    seen.push(`${m.content.toString()}:${m.fields.redelivered}`);
    ch.ack(m);
  }
  assert.deepEqual(seen, ["m1:true", "m3:true", "m4:false", "m5:false"]);
  ch.ack(m2);
  assert.equal((await ch.checkQueue(q)).messageCount, 0);
  await ch.deleteQueue(q);
});

// basic.recover(requeue=true): everything unacked on the channel is requeued
// and redelivered (to the consumer) in the original order, redelivered=true.
test("basic.recover requeues unacked deliveries in order", async () => {
  const q = uniq("recover");
  const ch = await sem.channel();
  await fill(ch, q, 3);
  const inbox = new Inbox<amqp.ConsumeMessage>();
  await ch.consume(q, (m) => m && inbox.push(m), { noAck: false });
  await inbox.waitFor(3);
  await ch.recover();
  const all = await inbox.waitFor(6);
  assert.deepEqual(
    all.map((m) => `${m.content.toString()}:${m.fields.redelivered}`),
    ["m1:false", "m2:false", "m3:false", "m1:true", "m2:true", "m3:true"],
  );
  // the new delivery tags continue the channel's sequence
  assert.deepEqual(
    all.map((m) => m.fields.deliveryTag),
    [1, 2, 3, 4, 5, 6],
  );
  ch.ackAll();
  await ch.deleteQueue(q);
});

// Closing a channel requeues its unacked messages ahead of the messages that
// were never delivered, in their original order.
test("channel close requeues unacked messages in order, ahead of ready ones", async () => {
  const q = uniq("close-requeue");
  const conn = await sem.connect();
  const ch1 = await conn.createChannel();
  await fill(ch1, q, 5);
  await getMsg(ch1, q);
  await getMsg(ch1, q);
  const inbox = new Inbox<amqp.ConsumeMessage>();
  await ch1.prefetch(1);
  await ch1.consume(q, (m) => m && inbox.push(m), { noAck: false });
  await inbox.waitFor(1);
  await ch1.close();
  const ch2 = await sem.channel(conn);
  // (RabbitMQ requeues a closed channel's messages asynchronously: poll)
  await waitUntil(async () => (await ch2.checkQueue(q)).messageCount === 5, 2000, "requeued");
  const got: string[] = [];
  for (;;) {
    const m = await ch2.get(q, { noAck: true });
    if (m === false) break;
    got.push(`${m.content.toString()}:${m.fields.redelivered}`);
  }
  assert.deepEqual(got, ["m1:true", "m2:true", "m3:true", "m4:false", "m5:false"]);
  await ch2.deleteQueue(q);
});

// basic.ack multiple=true with delivery tag 0 acks everything outstanding;
// multiple=true with tag N acks tags <= N only.
test("ack multiple: tag N acks up to N, tag 0 acks all", async () => {
  const q = uniq("ack-multiple");
  const conn = await sem.connect();
  const ch = await sem.channel(conn);
  await fill(ch, q, 5);
  const ms: amqp.GetMessage[] = [];
  for (let i = 0; i < 5; i++) ms.push(await getMsg(ch, q));
  ch.ack(ms[1]!, true); // m1, m2
  ch.ackAll(); // m3..m5 (delivery tag 0, multiple)
  await ch.close();
  // nothing was left unacked, so closing the channel requeued nothing
  const ch2 = await sem.channel(conn);
  assert.equal((await ch2.checkQueue(q)).messageCount, 0);
  await ch2.deleteQueue(q);
});

// basic.nack multiple=true, tag 0, requeue=true: all unacked back in order,
// redelivered; requeue=false: all discarded.
test("nack multiple with tag 0: requeue all in order, or discard all", async () => {
  const q = uniq("nack-multiple");
  const conn = await sem.connect();
  const ch = await sem.channel(conn);
  await fill(ch, q, 4);
  for (let i = 0; i < 3; i++) await getMsg(ch, q);
  ch.nackAll(true);
  const again: string[] = [];
  for (let i = 0; i < 4; i++) {
    const m = await getMsg(ch, q);
    again.push(`${m.content.toString()}:${m.fields.redelivered}`);
  }
  assert.deepEqual(again, ["m1:true", "m2:true", "m3:true", "m4:false"]);
  ch.nackAll(false);
  await ch.close();
  const ch2 = await sem.channel(conn);
  assert.equal((await ch2.checkQueue(q)).messageCount, 0);
  await ch2.deleteQueue(q);
});

// A consumer's nack with requeue goes back to the head and is redelivered to
// the next consumer with capacity; with one consumer it comes straight back.
test("nack requeue to a live consumer: redelivered at once, before later messages", async () => {
  const q = uniq("nack-consumer");
  const ch = await sem.channel();
  await fill(ch, q, 3);
  await ch.prefetch(1);
  const inbox = new Inbox<amqp.ConsumeMessage>();
  let nacked = false;
  await ch.consume(q, (m) => {
    if (!m) return;
    inbox.push(m);
    if (!nacked) {
      nacked = true;
      ch.nack(m, false, true);
    } else ch.ack(m);
  });
  const got = await inbox.waitFor(4);
  assert.deepEqual(
    got.map((m) => `${m.content.toString()}:${m.fields.redelivered}`),
    ["m1:false", "m1:true", "m2:false", "m3:false"],
  );
  await waitUntil(async () => (await ch.checkQueue(q)).messageCount === 0);
  assert.deepEqual(await drain(ch, q), []);
  await ch.deleteQueue(q);
});
