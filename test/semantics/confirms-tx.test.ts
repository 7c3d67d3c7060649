/**
 * Semantics: publisher confirms (unroutable messages are acked, a mandatory
 * return precedes the ack), transactions (publishes invisible until commit,
 * rollback discards publishes and acks), and direct reply-to edge cases.
 * (Refusals of mixing tx and confirm modes are in test/wire/basic-errors.test.ts;
 * sequence numbers 1..N in test/interop/features.test.ts.)
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import type amqp from "amqplib";
import { semBroker, Inbox, drain, uniq, closedWith, sleep, waitUntil, type Sem } from "./sem-helpers.js";

let sem: Sem;
let conn: amqp.ChannelModel;
before(async () => {
  sem = await semBroker("confirms");
  conn = await sem.connect();
});
after(async () => {
  await sem?.stop();
});

const chan = () => sem.channel(conn);

// A message that routes nowhere is confirmed (acked) all the same; with
// mandatory=true its basic.return arrives before that ack.
test("confirms: unroutable messages acked; mandatory return before the ack", async () => {
  const x = uniq("x-nowhere");
  const ch = await sem.confirmChannel(conn);
  await ch.assertExchange(x, "direct", { durable: false });
  const events: string[] = [];
  ch.on("return", (m: amqp.Message) => events.push(`return:${m.content.toString()}`));
  const pub = (body: string, mandatory: boolean) =>
    new Promise<void>((resolve) => {
      ch.publish(x, "none", Buffer.from(body), { mandatory }, (err) => {
        events.push(`${err ? "nack" : "ack"}:${body}`);
        resolve();
      });
    });
  await Promise.all([pub("plain", false), pub("mand", true)]);
  // both acked; the return precedes its own ack. (Where plain's ack falls relative to the return
  // depends on whether one multiple=true ack covers both publishes — arriving in one socket read
  // they share it, in warren as in RabbitMQ — so that order is not pinned.)
  assert.deepEqual([...events].sort(), ["ack:mand", "ack:plain", "return:mand"]);
  assert.ok(events.indexOf("return:mand") < events.indexOf("ack:mand"), events.join(", "));
  await ch.deleteExchange(x);
});

// tx: publishes are held until tx.commit — another connection sees nothing
// before, everything after; tx.rollback discards them.
test("tx: publishes invisible until commit, discarded by rollback", async () => {
  const q = uniq("tx-pub");
  const plain = await chan();
  await plain.assertQueue(q, { durable: false });
  const c = await sem.client();
  const ch = await c.channel();
  await ch.txSelect();
  await ch.basicPublish("", q, "t1");
  await ch.basicPublish("", q, "t2");
  // let time pass: nothing may become visible before the commit (there is no event to wait for)
  await sleep(50);
  assert.equal(await plain.get(q, { noAck: true }), false, "not visible before commit");
  await ch.txCommit();
  assert.deepEqual(await drain(plain, q), ["t1", "t2"]);
  await ch.basicPublish("", q, "r1");
  await ch.txRollback();
  await ch.basicPublish("", q, "t3");
  await ch.txCommit();
  assert.deepEqual(await drain(plain, q), ["t3"]);
  await plain.deleteQueue(q);
});

// tx: an ack takes effect at commit; rollback undoes it — the message stays
// unacked on the channel (and is requeued, redelivered, when the channel closes).
test("tx: acks applied at commit, undone by rollback", async () => {
  const q = uniq("tx-ack");
  const plain = await chan();
  await plain.assertQueue(q, { durable: false });
  plain.sendToQueue(q, Buffer.from("a"));
  plain.sendToQueue(q, Buffer.from("b"));
  const c = await sem.client();
  const ch = await c.channel();
  await ch.txSelect();
  const a = await ch.basicGet(q, { noAck: false });
  const b = await ch.basicGet(q, { noAck: false });
  assert.ok(a && b);
  await a.ack();
  await ch.txCommit();
  await b.ack();
  await ch.txRollback();
  await ch.close();
  // (RabbitMQ requeues a closed channel's messages asynchronously: poll)
  await waitUntil(async () => (await plain.checkQueue(q)).messageCount === 1, 2000, "b requeued");
  const left: string[] = [];
  for (;;) {
    const m = await plain.get(q, { noAck: true });
    if (!m) break;
    left.push(`${m.content.toString()}:${m.fields.redelivered}`);
  }
  assert.deepEqual(left, ["b:true"], "a acked by the commit; b's ack rolled back");
  await plain.deleteQueue(q);
});

// tx: a nack/reject is also deferred to the commit.
test("tx: reject with requeue takes effect at commit", async () => {
  const q = uniq("tx-reject");
  const plain = await chan();
  await plain.assertQueue(q, { durable: false });
  plain.sendToQueue(q, Buffer.from("m"));
  const c = await sem.client();
  const ch = await c.channel();
  await ch.txSelect();
  const m = await ch.basicGet(q, { noAck: false });
  assert.ok(m);
  await m.reject(true);
  // let time pass: the requeue must not happen before the commit (nothing to wait for)
  await sleep(50);
  assert.equal(await plain.get(q, { noAck: true }), false, "not requeued before commit");
  await ch.txCommit();
  const again = await plain.get(q, { noAck: true });
  assert.ok(again);
  assert.equal(again.fields.redelivered, true);
  await plain.deleteQueue(q);
});

// Direct reply-to: publishing with reply_to=amq.rabbitmq.reply-to before
// consuming from the pseudo-queue on that channel is a 406 channel error.
test("direct reply-to: request before the reply consumer exists is 406", async () => {
  const q = uniq("rpc");
  const ch = await chan();
  await ch.assertQueue(q, { durable: false });
  const closed = closedWith(ch);
  ch.sendToQueue(q, Buffer.from("req"), { replyTo: "amq.rabbitmq.reply-to" });
  assert.equal(await closed, 406);
  const other = await chan();
  await other.deleteQueue(q);
});

// Direct reply-to: a reply to a requester that has gone away is dropped
// silently; the replying channel stays open (and a confirm is still an ack).
test("direct reply-to: reply to a gone requester is dropped silently", async () => {
  const q = uniq("rpc-gone");
  const server = await sem.confirmChannel(conn);
  await server.assertQueue(q, { durable: false });
  const requests = new Inbox<amqp.ConsumeMessage>();
  await server.consume(q, (m) => m && requests.push(m), { noAck: true });
  const reqConn = await sem.connect();
  const req = await reqConn.createChannel();
  await req.consume("amq.rabbitmq.reply-to", () => {}, { noAck: true });
  req.sendToQueue(q, Buffer.from("req"), { replyTo: "amq.rabbitmq.reply-to" });
  const [m] = await requests.waitFor(1);
  assert.match(m!.properties.replyTo as string, /^amq\.rabbitmq\.reply-to\./);
  await reqConn.close();
  const acked = await new Promise<boolean>((resolve) => server.sendToQueue(m!.properties.replyTo as string, Buffer.from("reply"), {}, (err) => resolve(!err)));
  assert.equal(acked, true);
  // still open
  await server.checkQueue(q);
  await server.deleteQueue(q);
});

// rabbit_channel:declare_fast_reply_to: a passive queue.declare of a requester's
// amq.rabbitmq.reply-to.<token> name succeeds (0 messages, 1 consumer) while that channel's
// reply consumer exists — from another channel or connection — and is 404 once it is gone.
// (RabbitMQ 3.10.8 itself fails the declare on the requester's own channel with 541, a
// self-call deadlock in rabbit_channel; warren answers it too, checked against warren only.)
test("direct reply-to: passive declare of the reply-to name while its consumer exists", async () => {
  const q = uniq("rpc-name");
  const reqConn = await sem.connect();
  const req = await reqConn.createChannel();
  req.on("error", () => {});
  const { consumerTag } = await req.consume("amq.rabbitmq.reply-to", () => {}, { noAck: true });
  await req.assertQueue(q, { durable: false });
  req.sendToQueue(q, Buffer.from("req"), { replyTo: "amq.rabbitmq.reply-to" });
  let m: amqp.GetMessage | false = false;
  await waitUntil(async () => (m = await req.get(q, { noAck: true })) !== false, 2000, "request queued");
  const name = (m as unknown as amqp.GetMessage).properties.replyTo as string;
  assert.match(name, /^amq\.rabbitmq\.reply-to\./);
  const other = await chan();
  assert.deepEqual(await other.checkQueue(name), { queue: name, messageCount: 0, consumerCount: 1 });
  const sameConn = await reqConn.createChannel();
  assert.deepEqual(await sameConn.checkQueue(name), { queue: name, messageCount: 0, consumerCount: 1 });
  if (!sem.external) assert.deepEqual(await req.checkQueue(name), { queue: name, messageCount: 0, consumerCount: 1 });
  await req.cancel(consumerTag);
  const after = await chan();
  const closed = closedWith(after);
  after.checkQueue(name).catch(() => {});
  assert.equal(await closed, 404);
  await other.deleteQueue(q);
  await reqConn.close();
});

// rabbit_channel: a transaction's publishes are enqueued at tx.commit, so a queue's
// x-message-ttl counts from the commit — a message published 2 s before the commit to a
// queue with a 1.5 s TTL is still there right after it. (Timing only works against a false
// pass: a slow machine could only make the message expire, failing the test.)
test("tx: the TTL clock starts at tx.commit, not at basic.publish", async () => {
  const q = uniq("tx-ttl");
  const plain = await chan();
  await plain.assertQueue(q, { durable: false, arguments: { "x-message-ttl": 1500 } });
  const c = await sem.client();
  const ch = await c.channel();
  await ch.txSelect();
  await ch.basicPublish("", q, "late");
  // let time pass beyond the TTL while uncommitted: the TTL clock must start at the commit
  await sleep(2000);
  await ch.txCommit();
  const m = await plain.get(q, { noAck: true });
  assert.ok(m, "message enqueued at commit, its TTL not yet over");
  assert.equal(m.content.toString(), "late");
  await plain.deleteQueue(q);
});

// rabbit_channel: an ack inside an open transaction takes the delivery out of the channel's
// unacked list at once, so basic.recover(requeue=true) does not redeliver it; tx.commit then
// completes the ack.
test("tx: basic.recover does not redeliver a message whose ack is pending in the transaction", async () => {
  const q = uniq("tx-recover");
  const plain = await chan();
  await plain.assertQueue(q, { durable: false });
  plain.sendToQueue(q, Buffer.from("acked"));
  plain.sendToQueue(q, Buffer.from("held"));
  const c = await sem.client();
  const ch = await c.channel();
  await ch.txSelect();
  const a = await ch.basicGet(q, { noAck: false });
  const b = await ch.basicGet(q, { noAck: false });
  assert.ok(a && b);
  await a.ack();
  await ch.basicRecover(true);
  // (RabbitMQ requeues asynchronously: poll for the requeued message)
  await waitUntil(async () => (await plain.checkQueue(q)).messageCount === 1, 5000, "one message requeued");
  await ch.txCommit();
  const left: string[] = [];
  for (;;) {
    const m = await plain.get(q, { noAck: true });
    if (!m) break;
    left.push(`${m.content.toString()}:${m.fields.redelivered}`);
  }
  assert.deepEqual(left, ["held:true"]);
  await plain.deleteQueue(q);
});
