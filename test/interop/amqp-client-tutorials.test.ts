/**
 * Interop: the six official RabbitMQ tutorials written with
 * @cloudamqp/amqp-client 3.x (`new AMQPClient(url)`), a TypeScript client with
 * its own codec. Separate connections stand in for the tutorials' programs.
 *
 * Asserts who receives which message, in order, redelivered flags, fair
 * dispatch under prefetch 1, server-named exclusive queues, direct and topic
 * routing, and RPC answers matched by correlationId.
 * Names are the tutorials' own; interopBroker() isolates this file.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { AMQPClient, type AMQPChannel, type AMQPMessage } from "@cloudamqp/amqp-client";
import { interopBroker, Inbox, sleep, fib, type InteropBroker } from "./interop-helpers.js";
import { waitFor } from "../helpers/wait.js";

type Conn = Awaited<ReturnType<AMQPClient["connect"]>>;

let broker: InteropBroker;
const conns: Conn[] = [];
before(async () => {
  broker = await interopBroker("amqp-client-tutorials");
});
after(async () => {
  for (const c of conns) if (!c.closed) await c.close().catch(() => {});
  await broker?.stop();
});

/** A new connection (a "program" in the tutorials) and a channel on it. */
async function program(): Promise<AMQPChannel> {
  const c = await new AMQPClient(broker.url).connect();
  c.onerror = () => {};
  conns.push(c);
  return c.channel();
}

const text = (m: AMQPMessage): string => m.bodyToString() ?? "";

// Tutorial 1: a queue holds a message until a consumer comes; the consumer then gets it and later ones.
test("amqp-client tutorial 1: hello world", async () => {
  const send = await program();
  const q = await send.queue("hello", { durable: false, autoDelete: false, exclusive: false });
  await q.publish("Hello World!");
  const recv = await program();
  const inbox = new Inbox<string>();
  await (await recv.queue("hello", { durable: false, autoDelete: false, exclusive: false })).subscribe({ noAck: true }, (m) => inbox.push(text(m)));
  await q.publish("Hello again!");
  assert.deepEqual(await inbox.waitFor(2), ["Hello World!", "Hello again!"]);
  await recv.connection.close();
});

// Tutorial 2: durable task_queue + persistent tasks (deliveryMode 2); a non-durable redeclare is refused (406).
test("amqp-client tutorial 2: durable queue and persistent messages", async () => {
  const ch = await program();
  const q = await ch.queue("task_queue", { durable: true });
  await q.publish("First message.", { deliveryMode: 2 });
  const m: AMQPMessage = await waitFor("the task in task_queue", () => q.get({ noAck: true }), 1000);
  assert.equal(text(m), "First message.");
  assert.equal(m.properties.deliveryMode, 2);
  const other = await program();
  await assert.rejects(other.queue("task_queue", { durable: false }), /PRECONDITION_FAILED/);
  assert.equal(other.closed, true);
});

/** A tutorial worker: prefetch 1, manual ack after `dots * msPerDot`. */
async function worker(name: string, seen: Inbox<[string, string]>, acked: Inbox<string>, msPerDot: number): Promise<AMQPChannel> {
  const ch = await program();
  await ch.prefetch(1);
  const q = await ch.queue("task_queue", { durable: true });
  await q.subscribe({ noAck: false }, (m) => {
    const body = text(m);
    seen.push([name, body]);
    setTimeout(() => void m.ack().then(() => acked.push(body)), (body.split(".").length - 1) * msPerDot);
  });
  return ch;
}

// Tutorial 2: prefetch 1 fair dispatch — the worker stuck on a heavy task gets nothing else.
test("amqp-client tutorial 2: fair dispatch with prefetch 1", async () => {
  const seen = new Inbox<[string, string]>();
  const acked = new Inbox<string>();
  const workers = [await worker("A", seen, acked, 100), await worker("B", seen, acked, 100)];
  const pub = await program();
  const heavy = "heavy" + ".".repeat(15);
  await pub.basicPublish("", "task_queue", heavy, { deliveryMode: 2 });
  const [first] = await seen.waitFor(1);
  for (let i = 1; i <= 6; i++) await pub.basicPublish("", "task_queue", `light${i}.`, { deliveryMode: 2 });
  await seen.waitFor(7);
  // let time pass: no further message may arrive (nothing to wait for)
  await sleep(200);
  const busy = first![0];
  assert.deepEqual(
    seen.items.filter(([w]) => w === busy).map(([, b]) => b),
    [heavy],
  );
  assert.deepEqual(
    seen.items.filter(([w]) => w !== busy).map(([, b]) => b),
    [1, 2, 3, 4, 5, 6].map((i) => `light${i}.`),
  );
  await acked.waitFor(7, 5000);
  for (const w of workers) await w.connection.close(); // the next test wants task_queue to itself
});

// Tutorial 2: a worker that dies before acking — its task is redelivered, flagged redelivered.
test("amqp-client tutorial 2: unacked task redelivered when the worker's connection dies", async () => {
  const pub = await program();
  const a = await program();
  await a.prefetch(1);
  const seenA = new Inbox<AMQPMessage>();
  await a.basicConsume("task_queue", { noAck: false }, (m) => seenA.push(m));
  await pub.basicPublish("", "task_queue", "dying......", { deliveryMode: 2 });
  const [ma] = await seenA.waitFor(1);
  assert.equal(text(ma!), "dying......");
  assert.equal(ma!.redelivered, false);
  await a.connection.close(); // dies without acking
  const b = await program();
  const seenB = new Inbox<AMQPMessage>();
  await b.basicConsume("task_queue", { noAck: false }, async (m) => {
    seenB.push(m);
    await m.ack();
  });
  const [mb] = await seenB.waitFor(1);
  assert.equal(text(mb!), "dying......");
  assert.equal(mb!.redelivered, true);
  await waitFor("task_queue empty", async () => (await pub.queueDeclare("task_queue", { passive: true })).messageCount === 0);
});

// Tutorial 3: fanout to server-named exclusive queues; each subscriber gets every message;
// the queue disappears with its connection.
test("amqp-client tutorial 3: publish/subscribe", async () => {
  const subs: Array<{ ch: AMQPChannel; q: string; inbox: Inbox<string> }> = [];
  for (let i = 0; i < 2; i++) {
    const ch = await program();
    await ch.exchangeDeclare("logs", "fanout", { durable: false });
    const q = await ch.queue("", { exclusive: true });
    await q.bind("logs", "");
    const inbox = new Inbox<string>();
    await q.subscribe({ noAck: true }, (m) => inbox.push(text(m)));
    subs.push({ ch, q: q.name, inbox });
  }
  assert.match(subs[0]!.q, /^amq\.gen-/);
  assert.notEqual(subs[0]!.q, subs[1]!.q);
  const pub = await program();
  await pub.exchangeDeclare("logs", "fanout", { durable: false });
  await pub.basicPublish("logs", "", "info: Hello World!");
  await pub.basicPublish("logs", "", "second");
  for (const s of subs) assert.deepEqual(await s.inbox.waitFor(2), ["info: Hello World!", "second"]);
  await subs[0]!.ch.connection.close();
  await assert.rejects(pub.queueDeclare(subs[0]!.q, { passive: true }), /NOT_FOUND/);
});

/** Exclusive server-named queue bound to `exchange` with each key; collects "rk:body". */
async function subscriber(exchange: string, type: string, keys: string[]): Promise<Inbox<string>> {
  const ch = await program();
  await ch.exchangeDeclare(exchange, type, { durable: false });
  const q = await ch.queue("", { exclusive: true });
  for (const k of keys) await q.bind(exchange, k);
  const inbox = new Inbox<string>();
  await q.subscribe({ noAck: true }, (m) => inbox.push(`${m.routingKey}:${text(m)}`));
  return inbox;
}

// Tutorial 4: direct exchange, several binding keys per queue, unbound keys dropped.
test("amqp-client tutorial 4: routing", async () => {
  const disk = await subscriber("direct_logs", "direct", ["warning", "error"]);
  const screen = await subscriber("direct_logs", "direct", ["info", "warning", "error"]);
  const pub = await program();
  for (const [sev, msg] of [
    ["error", "Run. Run. Or it will explode."],
    ["info", "Hello World!"],
    ["debug", "dropped"],
    ["warning", "low disk"],
  ]) {
    await pub.basicPublish("direct_logs", sev!, msg!);
  }
  assert.deepEqual(await screen.waitFor(3), ["error:Run. Run. Or it will explode.", "info:Hello World!", "warning:low disk"]);
  // let time pass: no further message may arrive (nothing to wait for)
  await sleep(100);
  assert.deepEqual(disk.items, ["error:Run. Run. Or it will explode.", "warning:low disk"]);
});

// Tutorial 5: topic exchange — '*' one word, '#' zero or more words.
test("amqp-client tutorial 5: topics", async () => {
  const all = await subscriber("topic_logs", "topic", ["#"]);
  const kern = await subscriber("topic_logs", "topic", ["kern.*"]);
  const both = await subscriber("topic_logs", "topic", ["kern.*", "*.critical"]);
  const lazy = await subscriber("topic_logs", "topic", ["lazy.#", "*.*.rabbit"]);
  const pub = await program();
  const keys = ["kern.critical", "anonymous.critical", "kern.info.x", "lazy", "quick.orange.rabbit", "lazy.orange.male.rabbit", "kern"];
  for (const k of keys) await pub.basicPublish("topic_logs", k, "m");
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

// Tutorial 6: RPC — server on rpc_queue with prefetch 1; client with an exclusive callback
// queue, replyTo + correlationId; concurrent calls matched by correlationId.
test("amqp-client tutorial 6: RPC", async () => {
  const srv = await program();
  await srv.prefetch(1);
  const rq = await srv.queue("rpc_queue", { durable: false, autoDelete: false, exclusive: false });
  await rq.subscribe({ noAck: false }, async (m) => {
    const n = parseInt(text(m), 10);
    await srv.basicPublish("", m.properties.replyTo ?? "", String(fib(n)), { correlationId: m.properties.correlationId ?? "" });
    await m.ack();
  });
  const cli = await program();
  const cb = await cli.queue("", { exclusive: true });
  const pending = new Map<string, (v: string) => void>();
  await cb.subscribe({ noAck: true }, (m) => pending.get(m.properties.correlationId ?? "")?.(text(m)));
  const call = (n: number): Promise<string> =>
    new Promise((resolve) => {
      const id = `${n}-${Math.random()}`;
      pending.set(id, resolve);
      void cli.basicPublish("", "rpc_queue", String(n), { correlationId: id, replyTo: cb.name });
    });
  assert.deepEqual(await Promise.all([call(30), call(10), call(1)]), ["832040", "55", "1"]);
});
