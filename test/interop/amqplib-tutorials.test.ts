/**
 * Interop: the six official RabbitMQ tutorials written with amqplib's promise
 * API (`amqplib.connect(url)`), the way the JavaScript tutorials do. Separate
 * connections stand in for the tutorials' separate programs.
 *
 * Asserts who receives which message, in order, redelivered flags, fair
 * dispatch under prefetch(1), server-named exclusive queues, direct and topic
 * routing, and RPC answers matched by correlationId.
 * Names are the tutorials' own; interopBroker() isolates this file.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { interopBroker, Inbox, sleep, fib, type InteropBroker } from "./interop-helpers.js";
import { waitFor } from "../helpers/wait.js";

let broker: InteropBroker;
const conns: amqp.ChannelModel[] = [];
const connOf = new Map<amqp.Channel, amqp.ChannelModel>();
before(async () => {
  broker = await interopBroker("amqplib-tutorials");
});
after(async () => {
  for (const c of conns) await c.close().catch(() => {}); // already-closed ones reject
  await broker?.stop();
});

/** A new connection (a "program" in the tutorials), closed in `after`. */
async function program(): Promise<amqp.Channel> {
  const c = await amqp.connect(broker.url);
  c.on("error", () => {});
  conns.push(c);
  const ch = await c.createChannel();
  connOf.set(ch, c);
  return ch;
}

async function closeProgram(ch: amqp.Channel): Promise<void> {
  // Channel first: amqplib can put connection.close on the wire ahead of
  // frames still queued for a channel (an ack just sent would be lost).
  await ch.close().catch(() => {});
  await connOf.get(ch)?.close();
}

// Tutorial 1: a queue holds a message until a consumer comes; the consumer then gets it and later ones.
test("amqplib tutorial 1: hello world", async () => {
  const send = await program();
  await send.assertQueue("hello", { durable: false });
  send.sendToQueue("hello", Buffer.from("Hello World!"));
  const recv = await program();
  await recv.assertQueue("hello", { durable: false });
  const inbox = new Inbox<string>();
  await recv.consume("hello", (m) => m && inbox.push(m.content.toString()), { noAck: true });
  send.sendToQueue("hello", Buffer.from("Hello again!"));
  assert.deepEqual(await inbox.waitFor(2), ["Hello World!", "Hello again!"]);
  await closeProgram(recv);
  await closeProgram(send);
});

// Tutorial 2: durable task_queue + persistent tasks; RabbitMQ refuses a non-durable redeclare (406).
test("amqplib tutorial 2: durable queue and persistent messages", async () => {
  const ch = await program();
  await ch.assertQueue("task_queue", { durable: true });
  ch.sendToQueue("task_queue", Buffer.from("First message."), { persistent: true });
  const m = await waitGet(ch, "task_queue");
  assert.equal(m.properties.deliveryMode, 2);
  assert.equal(m.fields.redelivered, false);
  ch.ack(m);
  const other = await program();
  const closed = new Promise<{ code?: number }>((r) => other.once("error", r));
  await assert.rejects(other.assertQueue("task_queue", { durable: false }));
  assert.equal((await closed).code, 406);
  await closeProgram(ch);
});

async function waitGet(ch: amqp.Channel, q: string): Promise<amqp.GetMessage> {
  return waitFor(`a message in ${q}`, () => ch.get(q), 1000);
}

/** A tutorial worker: prefetch(1), manual ack after `dots * msPerDot`. */
async function worker(name: string, seen: Inbox<[string, string]>, acked: Inbox<string>, msPerDot: number): Promise<amqp.Channel> {
  const ch = await program();
  await ch.assertQueue("task_queue", { durable: true });
  await ch.prefetch(1);
  await ch.consume(
    "task_queue",
    (m) => {
      if (!m) return;
      const body = m.content.toString();
      seen.push([name, body]);
      setTimeout(
        () => {
          ch.ack(m);
          acked.push(body);
        },
        (body.split(".").length - 1) * msPerDot,
      );
    },
    { noAck: false },
  );
  return ch;
}

// Tutorial 2: prefetch(1) fair dispatch — the worker stuck on a heavy task gets nothing else.
test("amqplib tutorial 2: fair dispatch with prefetch(1)", async () => {
  const seen = new Inbox<[string, string]>();
  const acked = new Inbox<string>();
  const workers = [await worker("A", seen, acked, 100), await worker("B", seen, acked, 100)];
  const pub = await program();
  pub.sendToQueue("task_queue", Buffer.from("heavy" + ".".repeat(15)), { persistent: true });
  const [first] = await seen.waitFor(1);
  for (let i = 1; i <= 6; i++) pub.sendToQueue("task_queue", Buffer.from(`light${i}.`), { persistent: true });
  await seen.waitFor(7);
  // let time pass: no further message may arrive (nothing to wait for)
  await sleep(200);
  const busy = first![0];
  assert.deepEqual(
    seen.items.filter(([w]) => w === busy).map(([, b]) => b),
    ["heavy" + ".".repeat(15)],
  );
  assert.deepEqual(
    seen.items.filter(([w]) => w !== busy).map(([, b]) => b),
    [1, 2, 3, 4, 5, 6].map((i) => `light${i}.`),
  );
  await acked.waitFor(7, 5000);
  for (const w of workers) await closeProgram(w); // the next test wants task_queue to itself
});

// Tutorial 2: a worker that dies before acking — its task is redelivered, flagged redelivered.
test("amqplib tutorial 2: unacked task redelivered when the worker's connection dies", async () => {
  const pub = await program();
  const seenA = new Inbox<amqp.ConsumeMessage>();
  const a = await program();
  await a.prefetch(1);
  await a.consume("task_queue", (m) => m && seenA.push(m), { noAck: false });
  pub.sendToQueue("task_queue", Buffer.from("dying......"), { persistent: true });
  const [ma] = await seenA.waitFor(1);
  assert.equal(ma!.content.toString(), "dying......");
  assert.equal(ma!.fields.redelivered, false);
  await closeProgram(a); // dies without acking
  const seenB = new Inbox<amqp.ConsumeMessage>();
  const b = await program();
  await b.consume(
    "task_queue",
    (m) => {
      if (m) {
        seenB.push(m);
        b.ack(m);
      }
    },
    { noAck: false },
  );
  const [mb] = await seenB.waitFor(1);
  assert.equal(mb!.content.toString(), "dying......");
  assert.equal(mb!.fields.redelivered, true);
  await waitFor("task_queue empty", async () => (await pub.checkQueue("task_queue")).messageCount === 0);
});

// Tutorial 3: fanout to server-named exclusive queues; each subscriber gets every message;
// the queue disappears with its connection.
test("amqplib tutorial 3: publish/subscribe", async () => {
  const subs: Array<{ ch: amqp.Channel; q: string; inbox: Inbox<string> }> = [];
  for (let i = 0; i < 2; i++) {
    const ch = await program();
    await ch.assertExchange("logs", "fanout", { durable: false });
    const { queue } = await ch.assertQueue("", { exclusive: true });
    await ch.bindQueue(queue, "logs", "");
    const inbox = new Inbox<string>();
    await ch.consume(queue, (m) => m && inbox.push(m.content.toString()), { noAck: true });
    subs.push({ ch, q: queue, inbox });
  }
  assert.match(subs[0]!.q, /^amq\.gen-/);
  assert.notEqual(subs[0]!.q, subs[1]!.q);
  const pub = await program();
  await pub.assertExchange("logs", "fanout", { durable: false });
  pub.publish("logs", "", Buffer.from("info: Hello World!"));
  pub.publish("logs", "", Buffer.from("second"));
  for (const s of subs) assert.deepEqual(await s.inbox.waitFor(2), ["info: Hello World!", "second"]);
  await closeProgram(subs[0]!.ch);
  await assert.rejects(pub.checkQueue(subs[0]!.q), /404/);
});

/** Exclusive server-named queue bound to `exchange` with each key; returns "rk:body" strings. */
async function subscriber(exchange: string, type: string, keys: string[]): Promise<Inbox<string>> {
  const ch = await program();
  await ch.assertExchange(exchange, type, { durable: false });
  const { queue } = await ch.assertQueue("", { exclusive: true });
  for (const k of keys) await ch.bindQueue(queue, exchange, k);
  const inbox = new Inbox<string>();
  await ch.consume(queue, (m) => m && inbox.push(`${m.fields.routingKey}:${m.content.toString()}`), { noAck: true });
  return inbox;
}

// Tutorial 4: direct exchange, several binding keys per queue, unbound keys dropped.
test("amqplib tutorial 4: routing", async () => {
  const disk = await subscriber("direct_logs", "direct", ["warning", "error"]);
  const screen = await subscriber("direct_logs", "direct", ["info", "warning", "error"]);
  const pub = await program();
  for (const [sev, msg] of [
    ["error", "Run. Run. Or it will explode."],
    ["info", "Hello World!"],
    ["debug", "dropped"],
    ["warning", "low disk"],
  ]) {
    pub.publish("direct_logs", sev!, Buffer.from(msg!));
  }
  assert.deepEqual(await screen.waitFor(3), ["error:Run. Run. Or it will explode.", "info:Hello World!", "warning:low disk"]);
  // let time pass: no further message may arrive (nothing to wait for)
  await sleep(100);
  assert.deepEqual(disk.items, ["error:Run. Run. Or it will explode.", "warning:low disk"]);
});

// Tutorial 5: topic exchange — '*' one word, '#' zero or more words.
test("amqplib tutorial 5: topics", async () => {
  const all = await subscriber("topic_logs", "topic", ["#"]);
  const kern = await subscriber("topic_logs", "topic", ["kern.*"]);
  const both = await subscriber("topic_logs", "topic", ["kern.*", "*.critical"]);
  const lazy = await subscriber("topic_logs", "topic", ["lazy.#", "*.*.rabbit"]);
  const pub = await program();
  const keys = ["kern.critical", "anonymous.critical", "kern.info.x", "lazy", "quick.orange.rabbit", "lazy.orange.male.rabbit", "kern"];
  for (const k of keys) pub.publish("topic_logs", k, Buffer.from("m"));
  assert.deepEqual(
    await all.waitFor(keys.length),
    keys.map((k) => `${k}:m`),
  );
  // let time pass: no further message may arrive (nothing to wait for)
  await sleep(100);
  assert.deepEqual(kern.items, ["kern.critical:m"]);
  assert.deepEqual(both.items, ["kern.critical:m", "anonymous.critical:m"]);
  assert.deepEqual(lazy.items, ["lazy:m", "quick.orange.rabbit:m", "lazy.orange.male.rabbit:m"]);
});

// Tutorial 6: RPC — server on rpc_queue with prefetch(1); client with an exclusive callback
// queue, replyTo + correlationId; concurrent calls matched by correlationId.
test("amqplib tutorial 6: RPC", async () => {
  const srv = await program();
  await srv.assertQueue("rpc_queue", { durable: false });
  await srv.prefetch(1);
  await srv.consume("rpc_queue", (m) => {
    if (!m) return;
    const n = parseInt(m.content.toString(), 10);
    srv.sendToQueue(m.properties.replyTo, Buffer.from(String(fib(n))), { correlationId: m.properties.correlationId });
    srv.ack(m);
  });
  const cli = await program();
  const { queue } = await cli.assertQueue("", { exclusive: true });
  const pending = new Map<string, (v: string) => void>();
  await cli.consume(queue, (m) => m && pending.get(m.properties.correlationId)?.(m.content.toString()), { noAck: true });
  const call = (n: number): Promise<string> =>
    new Promise((resolve) => {
      const id = `${n}-${Math.random()}`;
      pending.set(id, resolve);
      cli.sendToQueue("rpc_queue", Buffer.from(String(n)), { correlationId: id, replyTo: queue });
    });
  assert.deepEqual(await Promise.all([call(30), call(10), call(1)]), ["832040", "55", "1"]);
});
