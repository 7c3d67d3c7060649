/**
 * Interop: RabbitMQ features real applications lean on, each driven by a real
 * client: publisher confirms (amqplib ConfirmChannel, amqp-client
 * confirmSelect), direct reply-to RPC (amqplib and pika), consumer cancel
 * notification when the consumed queue is deleted (amqplib, amqp-client,
 * pika), a quorum queue declaration, and mandatory publishes returned.
 * Queue names are unique per test; the pika direct reply-to test uses the
 * tutorial's fixed 'rpc_queue' (interopBroker() isolates this file).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { AMQPClient } from "@cloudamqp/amqp-client";
import { interopBroker, spawnPy, runPyOk, killAllPy, Inbox, uniq, fib, type InteropBroker } from "./interop-helpers.js";

let broker: InteropBroker;
let conn: amqp.ChannelModel;
before(async () => {
  broker = await interopBroker("features");
  conn = await amqp.connect(broker.url);
  conn.on("error", () => {});
});
after(async () => {
  await killAllPy();
  await conn?.close().catch(() => {});
  await broker?.stop();
});

async function channel(): Promise<amqp.Channel> {
  const ch = await conn.createChannel();
  ch.on("error", () => {});
  return ch;
}

// Publisher confirms: every publish on a confirm channel is acked (callback
// err === null) and waitForConfirms resolves; the messages are in the queue.
test("amqplib ConfirmChannel: publishes acked, waitForConfirms resolves", async () => {
  const q = uniq("confirm-amqplib");
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(q, { durable: true });
  const acks: Array<Promise<unknown>> = [];
  for (let i = 0; i < 50; i++) {
    acks.push(new Promise((resolve, reject) => ch.sendToQueue(q, Buffer.from(`m${i}`), { persistent: true }, (err) => (err ? reject(err) : resolve(err)))));
  }
  await ch.waitForConfirms();
  assert.deepEqual(await Promise.all(acks), new Array(50).fill(null));
  assert.equal((await ch.checkQueue(q)).messageCount, 50);
  await ch.deleteQueue(q);
  await ch.close();
});

// Publisher confirms in amqp-client: basicPublish resolves, once confirmed,
// with the publish sequence number 1..N.
test("amqp-client confirmSelect: each publish resolves with its sequence number", async () => {
  const q = uniq("confirm-amqp-client");
  const c = await new AMQPClient(broker.url).connect();
  try {
    const ch = await c.channel();
    await ch.confirmSelect();
    await ch.queue(q, { durable: true, autoDelete: false, exclusive: false });
    const tags = await Promise.all(Array.from({ length: 20 }, (_, i) => ch.basicPublish("", q, `m${i}`, { deliveryMode: 2 })));
    assert.deepEqual(
      tags,
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    assert.equal((await ch.queueDeclare(q, { passive: true })).messageCount, 20);
    await ch.queueDelete(q);
  } finally {
    await c.close();
  }
});

/** An amqplib RPC server computing fib on queue `q`, replying to replyTo. */
async function fibServer(q: string): Promise<amqp.Channel> {
  const srv = await channel();
  await srv.assertQueue(q, { durable: false, autoDelete: true });
  await srv.consume(q, (m) => {
    if (!m) return;
    srv.sendToQueue(m.properties.replyTo, Buffer.from(String(fib(parseInt(m.content.toString(), 10)))), { correlationId: m.properties.correlationId });
    srv.ack(m);
  });
  return srv;
}

// Direct reply-to: consume amq.rabbitmq.reply-to (no-ack), publish with that
// replyTo on the same channel; replies arrive with routing key
// amq.rabbitmq.reply-to.<token>. Publishing such a request without that
// consumer is refused: 406 PRECONDITION_FAILED.
test("amqplib direct reply-to RPC", async () => {
  const q = uniq("rpc-direct");
  const srv = await fibServer(q);
  const cli = await channel();
  const inbox = new Inbox<amqp.ConsumeMessage>();
  await cli.consume("amq.rabbitmq.reply-to", (m) => m && inbox.push(m), { noAck: true });
  cli.sendToQueue(q, Buffer.from("30"), { replyTo: "amq.rabbitmq.reply-to", correlationId: "a" });
  cli.sendToQueue(q, Buffer.from("12"), { replyTo: "amq.rabbitmq.reply-to", correlationId: "b" });
  const replies = await inbox.waitFor(2);
  assert.deepEqual(replies.map((m) => [m.properties.correlationId, m.content.toString()]).sort(), [
    ["a", "832040"],
    ["b", "144"],
  ]);
  for (const m of replies) assert.match(m.fields.routingKey, /^amq\.rabbitmq\.reply-to\..+/);
  await cli.close();

  const lone = await conn.createChannel();
  const closed = new Promise<{ code?: number; message?: string }>((r) => lone.once("error", r));
  lone.sendToQueue(q, Buffer.from("1"), { replyTo: "amq.rabbitmq.reply-to" });
  const err = await closed;
  assert.equal(err.code, 406);
  assert.match(err.message ?? "", /PRECONDITION_FAILED/);
  await srv.close();
});

// Direct reply-to from pika against the tutorial's unchanged rpc_server.py.
test("pika direct reply-to RPC against the tutorial rpc_server.py", async () => {
  const server = spawnPy("tutorials/rpc_server.py", broker.url);
  await server.waitFor(" [x] Awaiting RPC requests");
  const out = await runPyOk("extras/rpc_client_direct_reply_to.py", broker.url, ["30", "7"], { ms: 20_000 });
  assert.equal(
    out,
    [
      " [x] Requesting fib(30)",
      " [r] routing_key starts with amq.rabbitmq.reply-to.: True",
      " [.] Got 832040",
      " [x] Requesting fib(7)",
      " [r] routing_key starts with amq.rabbitmq.reply-to.: True",
      " [.] Got 13",
      "",
    ].join("\n"),
  );
  await server.kill();
});

// Consumer cancel notification: deleting a queue that has a consumer sends
// basic.cancel to the consumer; amqplib calls the consume callback with null.
test("amqplib consumer gets null when its queue is deleted", async () => {
  const q = uniq("cancel-amqplib");
  const ch = await channel();
  await ch.assertQueue(q, { durable: false });
  const inbox = new Inbox<string | null>();
  await ch.consume(q, (m) => inbox.push(m ? m.content.toString() : null), { noAck: true });
  ch.sendToQueue(q, Buffer.from("before"));
  await inbox.waitFor(1);
  const other = await channel();
  await other.deleteQueue(q);
  assert.deepEqual(await inbox.waitFor(2), ["before", null]);
  // the channel itself stays open and usable
  assert.equal((await ch.assertQueue(q, { durable: false })).queue, q);
  await ch.deleteQueue(q);
  await ch.close();
  await other.close();
});

// The same notification in amqp-client: the consumer is closed with an error.
test("amqp-client consumer closed when its queue is deleted", async () => {
  const q = uniq("cancel-amqp-client");
  const c = await new AMQPClient(broker.url).connect();
  try {
    const ch = await c.channel();
    const queue = await ch.queue(q, { durable: false, autoDelete: false, exclusive: false });
    const consumer = await queue.subscribe({ noAck: true }, () => {});
    // handle the outcome at once: basic.cancel (on this channel) and
    // queue.delete-ok (on the other) are not ordered with respect to each other
    const waited = consumer.wait(5000).then(
      () => "resolved",
      (e: Error) => e.message,
    );
    const other = await channel();
    await other.deleteQueue(q);
    assert.match(await waited, /cancelled by the server/);
    assert.equal(ch.closed, false);
    await other.close();
  } finally {
    await c.close();
  }
});

// The same notification in pika: on_cancel callback, then start_consuming returns.
test("pika on_cancel callback when the consumed queue is deleted", async () => {
  const q = uniq("cancel-pika");
  const p = spawnPy("extras/cancel_notify.py", broker.url, [q]);
  await p.waitFor(" [*] Waiting for messages");
  const tag = /\[t\] consumer tag: (\S+)/.exec(p.stdout)?.[1];
  const ch = await channel();
  ch.sendToQueue(q, Buffer.from("hi"));
  await p.waitFor(" [x] Received b'hi'");
  await ch.deleteQueue(q);
  const r = await p.finish(5000);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(` \\[c\\] cancelled by broker: ${tag}\\n \\[e\\] start_consuming returned; channel open: True\\n$`));
  await ch.close();
});

// Quorum queues: x-queue-type=quorum with durable=true is accepted and works
// like any queue for publish/consume/ack; a non-durable quorum queue is refused (406).
test("quorum queue declaration accepted and usable", async () => {
  const q = uniq("quorum");
  const ch = await channel();
  const ok = await ch.assertQueue(q, { durable: true, arguments: { "x-queue-type": "quorum" } });
  assert.equal(ok.queue, q);
  ch.sendToQueue(q, Buffer.from("in quorum"), { persistent: true });
  const inbox = new Inbox<amqp.ConsumeMessage>();
  await ch.consume(q, (m) => {
    if (m) {
      inbox.push(m);
      ch.ack(m);
    }
  });
  const [m] = await inbox.waitFor(1);
  assert.equal(m!.content.toString(), "in quorum");
  assert.equal(m!.fields.redelivered, false);
  await ch.deleteQueue(q);
  await ch.close();

  const bad = await conn.createChannel();
  const closed = new Promise<{ code?: number }>((r) => bad.once("error", r));
  await assert.rejects(bad.assertQueue(uniq("quorum-bad"), { durable: false, arguments: { "x-queue-type": "quorum" } }));
  assert.equal((await closed).code, 406);
});

// Mandatory: an unroutable mandatory publish comes back as basic.return
// (312 NO_ROUTE) with its body and properties; on a confirm channel the
// return arrives before the ack. A non-mandatory one is silently dropped.
test("amqplib mandatory publish to nowhere is returned", async () => {
  const ch = await conn.createConfirmChannel();
  const ex = uniq("nowhere");
  await ch.assertExchange(ex, "direct", { durable: false, autoDelete: true });
  const order: string[] = [];
  const returned = new Inbox<amqp.Message>();
  ch.on("return", (m: amqp.Message) => {
    order.push("return");
    returned.push(m);
  });
  const acked = (exchange: string, rk: string, body: string, mandatory: boolean): Promise<void> =>
    new Promise((resolve, reject) =>
      ch.publish(exchange, rk, Buffer.from(body), { mandatory, correlationId: body }, (err) => {
        order.push(`ack:${body}`);
        return err ? reject(err) : resolve();
      }),
    );
  await acked(ex, "no-binding", "quiet", false);
  await acked(ex, "no-binding", "to-exchange", true);
  await acked("", uniq("no-such-queue"), "to-default", true);
  const got = await returned.waitFor(2);
  const fields = (m: amqp.Message): amqp.MessageFields & { replyCode?: number; replyText?: string } => m.fields;
  assert.deepEqual(
    got.map((m) => [fields(m).replyCode, fields(m).replyText, m.fields.exchange, m.content.toString(), m.properties.correlationId]),
    [
      [312, "NO_ROUTE", ex, "to-exchange", "to-exchange"],
      [312, "NO_ROUTE", "", "to-default", "to-default"],
    ],
  );
  assert.deepEqual(order, ["ack:quiet", "return", "ack:to-exchange", "return", "ack:to-default"]);
  await ch.close();
});

// RabbitMQ sends heartbeat frames every heartbeat/2 seconds of silence ("Heartbeat frames are sent
// about every heartbeat timeout / 2 seconds"). @cloudamqp/amqp-client sends none of its own: it
// echoes the server's and drops the connection after `heartbeat` seconds without a frame, so
// with heartbeat=1 an idle connection survives only if the server keeps that cadence.
test("amqp-client with heartbeat=1 stays connected while idle (server heartbeats every ~0.5 s)", async () => {
  const u = new URL(broker.url);
  u.searchParams.set("heartbeat", "1");
  const c = await new AMQPClient(u.toString()).connect();
  try {
    await new Promise((r) => setTimeout(r, 3500));
    assert.equal(c.closed, false, "connection dropped by the client's heartbeat timeout");
    const ch = await c.channel();
    const q = await ch.queue("", { exclusive: true });
    assert.ok(q.name.startsWith("amq.gen-"));
  } finally {
    await c.close().catch(() => {});
  }
});

// Clients (amqplib's own test suite among them) check server-properties.product to know they talk
// to RabbitMQ; RabbitMQ 3.x sends product "RabbitMQ" and its version.
test("amqplib sees server product RabbitMQ with a 3.x version and the RabbitMQ capabilities", async () => {
  const sp = (conn as unknown as { connection: { serverProperties: Record<string, unknown> } }).connection.serverProperties;
  assert.equal(sp["product"], "RabbitMQ");
  assert.match(String(sp["version"]), /^3\.\d+\.\d+/);
  const caps = sp["capabilities"] as Record<string, boolean>;
  for (const k of [
    "publisher_confirms",
    "exchange_exchange_bindings",
    "basic.nack",
    "consumer_cancel_notify",
    "connection.blocked",
    "consumer_priorities",
    "authentication_failure_close",
    "per_consumer_qos",
    "direct_reply_to",
  ]) {
    assert.equal(caps[k], true, k);
  }
});
