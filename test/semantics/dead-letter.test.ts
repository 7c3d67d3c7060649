/**
 * Semantics: dead-lettering — what triggers it (reject/nack without requeue,
 * expiry, max-length), where the message goes (x-dead-letter-exchange, with
 * x-dead-letter-routing-key or the original keys), and the x-death header
 * RabbitMQ 3.x writes: one entry per {queue, reason}, most recent first, with
 * count, reason, queue, time, exchange, routing-keys (CC included), plus
 * x-first-death-queue/-reason/-exchange; and cycle handling.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import type amqp from "amqplib";
import { semBroker, Inbox, drain, uniq, sleep, waitUntil, type Sem } from "./sem-helpers.js";

let sem: Sem;
let conn: amqp.ChannelModel;
before(async () => {
  sem = await semBroker("dlx");
  conn = await sem.connect();
});
after(async () => {
  await sem?.stop();
});

const chan = () => sem.channel(conn);
type Death = Record<string, unknown>;
const deaths = (m: amqp.Message): Death[] => (m.properties.headers?.["x-death"] ?? []) as unknown as Death[];

/** A DLX (direct) with one queue bound under `key`. */
async function dlxWithQueue(ch: amqp.Channel, key: string): Promise<{ dlx: string; dlq: string }> {
  const dlx = uniq("dlx");
  const dlq = uniq("dlq");
  await ch.assertExchange(dlx, "direct", { durable: false });
  await ch.assertQueue(dlq, { durable: false });
  await ch.bindQueue(dlq, dlx, key);
  return { dlx, dlq };
}

async function getOne(ch: amqp.Channel, q: string): Promise<amqp.GetMessage> {
  let m: amqp.GetMessage | false = false;
  await waitUntil(async () => (m = await ch.get(q, { noAck: true })) !== false, 3000, `a message in ${q}`);
  return m as unknown as amqp.GetMessage;
}

// basic.reject requeue=false: the message is republished to the DLX with
// x-dead-letter-routing-key, and carries one x-death entry and x-first-death-*.
test("reject without requeue: dead-lettered with x-death and x-first-death-*", async () => {
  const ch = await chan();
  const { dlx, dlq } = await dlxWithQueue(ch, "dead");
  const q = uniq("src");
  await ch.assertQueue(q, { durable: false, arguments: { "x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": "dead" } });
  const before = Math.floor(Date.now() / 1000);
  ch.sendToQueue(q, Buffer.from("bad"), { headers: { app: "x" }, messageId: "id-1" });
  const got = await ch.get(q, { noAck: false });
  assert.ok(got);
  ch.reject(got, false);
  const d = await getOne(ch, dlq);
  assert.equal(d.content.toString(), "bad");
  assert.equal(d.fields.exchange, dlx);
  assert.equal(d.fields.routingKey, "dead");
  assert.equal(d.fields.redelivered, false);
  assert.equal(d.properties.messageId, "id-1");
  const h = d.properties.headers!;
  assert.deepEqual(Object.keys(h).sort(), ["app", "x-death", "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason"]);
  assert.equal(h["app"], "x");
  assert.equal(h["x-first-death-queue"], q);
  assert.equal(h["x-first-death-reason"], "rejected");
  assert.equal(h["x-first-death-exchange"], "");
  const [x, ...rest] = deaths(d);
  assert.equal(rest.length, 0);
  assert.deepEqual({ ...x, time: undefined }, { count: 1, reason: "rejected", queue: q, exchange: "", "routing-keys": [q], time: undefined });
  const t = Number((x!["time"] as { value?: number })?.value ?? x!["time"]);
  assert.ok(t >= before - 1 && t <= Math.ceil(Date.now() / 1000) + 1, `time ${t} is a timestamp in seconds`);
  await ch.deleteQueue(q);
  await ch.deleteQueue(dlq);
  await ch.deleteExchange(dlx);
});

// basic.nack requeue=false (multiple too) dead-letters every message it covers,
// in order; without x-dead-letter-routing-key the original routing key is kept.
test("nack multiple without requeue: all dead-lettered in order, original key", async () => {
  const ch = await chan();
  const q = uniq("src-nack");
  const { dlx, dlq } = await dlxWithQueue(ch, q);
  await ch.assertQueue(q, { durable: false, arguments: { "x-dead-letter-exchange": dlx } });
  for (let i = 1; i <= 3; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
  const inbox = new Inbox<amqp.ConsumeMessage>();
  await ch.consume(q, (m) => m && inbox.push(m));
  const ms = await inbox.waitFor(3);
  ch.nack(ms[2]!, true, false);
  await waitUntil(async () => (await ch.checkQueue(dlq)).messageCount === 3, 3000);
  const out: string[] = [];
  for (let i = 0; i < 3; i++) {
    const d = await getOne(ch, dlq);
    out.push(`${d.content.toString()}:${d.fields.routingKey}:${String(deaths(d)[0]!["reason"])}`);
  }
  assert.deepEqual(out, [`m1:${q}:rejected`, `m2:${q}:rejected`, `m3:${q}:rejected`]);
  await ch.deleteQueue(q);
  await ch.deleteQueue(dlq);
  await ch.deleteExchange(dlx);
});

// x-max-length (drop-head): the dropped head is dead-lettered with reason maxlen.
test("max-length overflow dead-letters the head with reason maxlen", async () => {
  const ch = await chan();
  const { dlx, dlq } = await dlxWithQueue(ch, "over");
  const q = uniq("src-maxlen");
  await ch.assertQueue(q, { durable: false, arguments: { "x-max-length": 2, "x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": "over" } });
  for (let i = 1; i <= 4; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
  await waitUntil(async () => (await ch.checkQueue(dlq)).messageCount === 2, 3000);
  assert.deepEqual(await drain(ch, q), ["m3", "m4"]);
  const d1 = await getOne(ch, dlq);
  const d2 = await getOne(ch, dlq);
  assert.deepEqual([d1.content.toString(), d2.content.toString()], ["m1", "m2"]);
  assert.equal(deaths(d1)[0]!["reason"], "maxlen");
  assert.equal(d1.properties.headers!["x-first-death-reason"], "maxlen");
  await ch.deleteQueue(q);
  await ch.deleteQueue(dlq);
  await ch.deleteExchange(dlx);
});

// The retry pattern: work queue rejects to a delay queue whose TTL sends the
// message back. Each pass increments the count of the matching {queue,
// reason} entry, which moves to the front; x-first-death-* stay as first set.
test("repeated dead-letter cycles increment x-death counts", async () => {
  const ch = await chan();
  const work = uniq("work");
  const delay = uniq("delay");
  await ch.assertQueue(work, { durable: false, arguments: { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": delay } });
  await ch.assertQueue(delay, { durable: false, arguments: { "x-message-ttl": 20, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": work } });
  const seen: amqp.ConsumeMessage[] = [];
  const done = new Inbox<amqp.ConsumeMessage>();
  await ch.consume(work, (m) => {
    if (!m) return;
    seen.push(m);
    if (seen.length < 3) ch.reject(m, false);
    else {
      ch.ack(m);
      done.push(m);
    }
  });
  ch.sendToQueue(work, Buffer.from("job"));
  const [last] = await done.waitFor(1, 5000);
  assert.deepEqual(deaths(seen[0]!), []);
  const simple = (d: Death) => `${String(d["queue"]) === work ? "work" : "delay"}:${String(d["reason"])}:${String(d["count"])}`;
  assert.deepEqual(deaths(seen[1]!).map(simple), ["delay:expired:1", "work:rejected:1"]);
  assert.deepEqual(deaths(last!).map(simple), ["delay:expired:2", "work:rejected:2"]);
  assert.equal(last!.properties.headers!["x-first-death-queue"], work);
  assert.equal(last!.properties.headers!["x-first-death-reason"], "rejected");
  // routing-keys of the delay queue's entry: the key it was dead-lettered with
  assert.deepEqual(deaths(last!)[0]!["routing-keys"], [delay]);
  await ch.deleteQueue(work);
  await ch.deleteQueue(delay);
});

// A message that would be dead-lettered back into a queue it already died in,
// with no rejection anywhere in the cycle (expiry only), is dropped instead of
// cycling forever.
test("expiry cycle back to the same queue is dropped", async () => {
  const ch = await chan();
  const q = uniq("self-loop");
  await ch.assertQueue(q, { durable: false, arguments: { "x-message-ttl": 30, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": q } });
  ch.sendToQueue(q, Buffer.from("loop"));
  // let time pass (10 TTLs): a cycling message would keep reappearing; a dropped one leaves no
  // event to wait for
  await sleep(300);
  const counts: number[] = [];
  for (let i = 0; i < 5; i++) {
    counts.push((await ch.checkQueue(q)).messageCount);
    await sleep(15);
  }
  assert.deepEqual(counts, [0, 0, 0, 0, 0]);
  await ch.deleteQueue(q);
});

// CC keys are part of the message's routing keys: x-death routing-keys lists
// them (BCC keys are not listed), and without x-dead-letter-routing-key the
// dead-lettered copy is routed with all of the original keys — BCC included,
// though the BCC header itself is long gone — one copy per queue.
test("CC routing keys: listed in x-death and used to route the dead letter", async () => {
  const ch = await chan();
  const x = uniq("x-src");
  await ch.assertExchange(x, "direct", { durable: false });
  const dlx = uniq("dlx-cc");
  await ch.assertExchange(dlx, "direct", { durable: false });
  const q = uniq("src-cc");
  await ch.assertQueue(q, { durable: false, arguments: { "x-dead-letter-exchange": dlx } });
  await ch.bindQueue(q, x, "a");
  const dead: Record<string, string> = {};
  for (const k of ["a", "b", "c"]) {
    dead[k] = uniq(`dl-${k}`);
    await ch.assertQueue(dead[k]!, { durable: false });
    await ch.bindQueue(dead[k]!, dlx, k);
  }
  ch.publish(x, "a", Buffer.from("cc"), { CC: ["b"], BCC: ["c"] });
  const m = await ch.get(q, { noAck: false });
  assert.ok(m);
  ch.reject(m, false);
  const da = await getOne(ch, dead["a"]!);
  assert.deepEqual(deaths(da)[0]!["routing-keys"], ["a", "b"]);
  assert.equal(da.fields.routingKey, "a");
  assert.deepEqual(da.properties.headers!["CC"], ["b"]);
  assert.equal(da.properties.headers!["BCC"], undefined);
  for (const k of ["b", "c"]) {
    const d = await getOne(ch, dead[k]!);
    assert.equal(d.content.toString(), "cc");
    assert.equal(d.fields.routingKey, "a");
  }
  // let time pass: no second copy may arrive in any queue (nothing to wait for)
  await sleep(100);
  assert.deepEqual([await drain(ch, dead["a"]!), await drain(ch, dead["b"]!), await drain(ch, dead["c"]!)], [[], [], []], "one copy each");
  for (const k of ["a", "b", "c"]) await ch.deleteQueue(dead[k]!);
  await ch.deleteQueue(q);
  await ch.deleteExchange(x);
  await ch.deleteExchange(dlx);
});

// With x-dead-letter-routing-key set, the CC header is removed from the
// dead-lettered copy (it is routed with that key only).
test("x-dead-letter-routing-key: CC header removed, only that key used", async () => {
  const ch = await chan();
  const { dlx, dlq } = await dlxWithQueue(ch, "dl");
  const other = uniq("dl-other");
  await ch.assertQueue(other, { durable: false });
  await ch.bindQueue(other, dlx, "b");
  const q = uniq("src-cc-rk");
  await ch.assertQueue(q, { durable: false, arguments: { "x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": "dl" } });
  ch.publish("", q, Buffer.from("m2"), { CC: ["b"] });
  const g = await ch.get(q, { noAck: false });
  assert.ok(g);
  ch.reject(g, false);
  const d = await getOne(ch, dlq);
  assert.equal(d.content.toString(), "m2");
  assert.equal(d.properties.headers!["CC"], undefined);
  assert.deepEqual(deaths(d)[0]!["routing-keys"], [q, "b"]);
  // let time pass: no copy may reach the queue bound to the CC key (nothing to wait for)
  await sleep(100);
  assert.equal((await ch.checkQueue(other)).messageCount, 0);
  await ch.deleteQueue(q);
  await ch.deleteQueue(dlq);
  await ch.deleteQueue(other);
  await ch.deleteExchange(dlx);
});

// A DLX that does not exist: the message is dropped silently (no error).
test("missing dead-letter exchange: message dropped, channel fine", async () => {
  const ch = await chan();
  const q = uniq("src-nodlx");
  await ch.assertQueue(q, { durable: false, arguments: { "x-dead-letter-exchange": uniq("absent") } });
  ch.sendToQueue(q, Buffer.from("m"));
  const m = await ch.get(q, { noAck: false });
  assert.ok(m);
  ch.reject(m, false);
  assert.equal((await ch.checkQueue(q)).messageCount, 0);
  await ch.deleteQueue(q);
});
