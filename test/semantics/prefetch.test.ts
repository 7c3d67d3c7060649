/**
 * Semantics: basic.qos as RabbitMQ interprets it — global=false is a limit per
 * consumer (for consumers created after it), global=true a limit shared by the
 * channel's consumers; both may be set at once and both apply. basic.get is
 * not limited by prefetch; get-ok carries the count of messages left;
 * get-empty when there are none.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import type amqp from "amqplib";
import { semBroker, Inbox, uniq, type Sem } from "./sem-helpers.js";
import { waitFor } from "../helpers/wait.js";

let sem: Sem;
before(async () => {
  sem = await semBroker("prefetch");
});
after(async () => {
  await sem?.stop();
});

/**
 * Wait until the queue has exactly `left` ready messages and the consumers hold `expected`: the
 * queue itself says how many it handed out, so once both agree no further delivery is on its way
 * (no fixed "give it time to deliver more" sleep; a delivery past the limit shows as a lower `left`).
 */
async function settled(ch: amqp.Channel, q: string, left: number, boxes: Inbox<amqp.ConsumeMessage>[], expected: number[] | number): Promise<void> {
  let last = "";
  try {
    await waitFor(
      `${q}: ${left} ready and consumers holding ${JSON.stringify(expected)}`,
      async () => {
        const ready = (await ch.checkQueue(q)).messageCount;
        const got = counts(boxes);
        last = `${ready} ready, consumers hold ${JSON.stringify(got)}`;
        return ready === left && (typeof expected === "number" ? got.reduce((a, b) => a + b, 0) === expected : JSON.stringify(got) === JSON.stringify(expected));
      },
      5000,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message} (last seen: ${last})`);
  }
}

async function fill(ch: amqp.Channel, q: string, n: number): Promise<void> {
  await ch.assertQueue(q, { durable: false });
  for (let i = 1; i <= n; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
  await ch.checkQueue(q);
}

/** Start `n` manual-ack consumers on `ch`; each gets its own inbox. */
async function consumers(ch: amqp.Channel, q: string, n: number): Promise<Inbox<amqp.ConsumeMessage>[]> {
  const boxes: Inbox<amqp.ConsumeMessage>[] = [];
  for (let i = 0; i < n; i++) {
    const box = new Inbox<amqp.ConsumeMessage>();
    await ch.consume(q, (m) => m && box.push(m), { noAck: false });
    boxes.push(box);
  }
  return boxes;
}

const counts = (boxes: Inbox<amqp.ConsumeMessage>[]) => boxes.map((b) => b.items.length);

// global=false: each consumer may hold `prefetch` unacked messages.
test("prefetch global=false limits each consumer separately", async () => {
  const q = uniq("qos-consumer");
  const ch = await sem.channel();
  await fill(ch, q, 10);
  await ch.prefetch(2, false);
  const boxes = await consumers(ch, q, 2);
  await settled(ch, q, 6, boxes, [2, 2]);
  await ch.deleteQueue(q);
});

// global=true: the limit is shared by all consumers on the channel.
test("prefetch global=true limits the channel as a whole", async () => {
  const q = uniq("qos-channel");
  const ch = await sem.channel();
  await fill(ch, q, 10);
  await ch.prefetch(3, true);
  const boxes = await consumers(ch, q, 2);
  await settled(ch, q, 7, boxes, 3);
  // acking one lets exactly one more through
  const first = boxes.find((b) => b.items.length > 0)!.items[0]!;
  ch.ack(first);
  await settled(ch, q, 6, boxes, 4);
  await ch.deleteQueue(q);
});

// Both at once, in the order RabbitMQ documents (per-consumer first, then
// global): per-consumer 2 and channel 5 — three consumers hold 2+2+1.
test("per-consumer and per-channel prefetch both apply", async () => {
  const q = uniq("qos-both");
  const ch = await sem.channel();
  await fill(ch, q, 20);
  await ch.prefetch(2, false);
  await ch.prefetch(5, true);
  const boxes = await consumers(ch, q, 3);
  await settled(ch, q, 15, boxes, [2, 2, 1]);
  await ch.deleteQueue(q);
});

// rabbit_channel quirk: basic.qos global=false lifts the channel-wide limit
// (rabbit_limiter:unlimit_prefetch), so global=true first, then global=false,
// leaves only the per-consumer limit: three consumers hold 2+2+2.
test("qos global=false after global=true lifts the channel limit", async () => {
  const q = uniq("qos-both-reversed");
  const ch = await sem.channel();
  await fill(ch, q, 20);
  await ch.prefetch(5, true);
  await ch.prefetch(2, false);
  const boxes = await consumers(ch, q, 3);
  await settled(ch, q, 14, boxes, [2, 2, 2]);
  await ch.deleteQueue(q);
});

// Changing global=false mid-stream affects only consumers created afterwards.
test("qos global=false change applies to new consumers only", async () => {
  const q = uniq("qos-change");
  const ch = await sem.channel();
  await fill(ch, q, 10);
  await ch.prefetch(1, false);
  const [a] = await consumers(ch, q, 1);
  await settled(ch, q, 9, [a!], [1]);
  await ch.prefetch(3, false);
  const [b] = await consumers(ch, q, 1);
  await settled(ch, q, 6, [a!, b!], [1, 3]);
  await ch.deleteQueue(q);
});

// Raising global=true mid-stream widens the channel's window at once.
test("qos global=true raised mid-stream lets more through at once", async () => {
  const q = uniq("qos-global-change");
  const ch = await sem.channel();
  await fill(ch, q, 10);
  await ch.prefetch(1, true);
  const [a] = await consumers(ch, q, 1);
  await settled(ch, q, 9, [a!], [1]);
  await ch.prefetch(4, true);
  await settled(ch, q, 6, [a!], [4]);
  await ch.deleteQueue(q);
});

// basic.get is not subject to prefetch: it returns a message even while the
// channel's consumers are at their limits.
test("basic.get ignores prefetch", async () => {
  const q = uniq("qos-get");
  const ch = await sem.channel();
  await fill(ch, q, 5);
  await ch.prefetch(1, true);
  await ch.prefetch(1, false);
  const [a] = await consumers(ch, q, 1);
  await settled(ch, q, 4, [a!], [1]);
  const g1 = await ch.get(q, { noAck: false });
  const g2 = await ch.get(q, { noAck: false });
  assert.ok(g1 && g2);
  assert.deepEqual([g1.content.toString(), g2.content.toString()], ["m2", "m3"]);
  await ch.deleteQueue(q);
});

// The channel-wide window counts consumer deliveries only: messages taken
// with basic.get and not yet acked do not hold it (rabbit_channel notifies the
// limiter only for deliveries with a consumer tag).
test("unacked basic.get messages do not use up the global prefetch window", async () => {
  const q = uniq("qos-get-window");
  const ch = await sem.channel();
  await fill(ch, q, 5);
  await ch.prefetch(1, true);
  assert.ok(await ch.get(q, { noAck: false }));
  assert.ok(await ch.get(q, { noAck: false }));
  const [a] = await consumers(ch, q, 1);
  await settled(ch, q, 2, [a!], [1]);
  assert.deepEqual(
    a!.items.map((m) => m.content.toString()),
    ["m3"],
  );
  await ch.deleteQueue(q);
});

// get-ok message_count is the number of messages left after this one;
// an empty queue answers get-empty (amqplib: false).
test("basic.get-ok message_count and get-empty", async () => {
  const q = uniq("get-count");
  const ch = await sem.channel();
  await fill(ch, q, 3);
  const counted: number[] = [];
  for (let i = 0; i < 3; i++) {
    const m = await ch.get(q, { noAck: true });
    assert.ok(m);
    counted.push(m.fields.messageCount);
  }
  assert.deepEqual(counted, [2, 1, 0]);
  assert.equal(await ch.get(q, { noAck: true }), false);
  // a get'd, unacked message is not counted as ready
  ch.sendToQueue(q, Buffer.from("x"));
  ch.sendToQueue(q, Buffer.from("y"));
  const x = await ch.get(q, { noAck: false });
  assert.ok(x);
  assert.equal(x.fields.messageCount, 1);
  assert.equal((await ch.checkQueue(q)).messageCount, 1);
  await ch.deleteQueue(q);
});

// rabbit_limiter: while the channel-wide window (global=true) is full, the channel's no-ack
// consumers are held back too (they do not use the window up, but the limiter blocks every
// queue of the channel); an ack that frees the window lets them run.
test("global prefetch full: a no-ack consumer on the same channel waits for an ack", async () => {
  const q1 = uniq("qos-glob-ack");
  const q2 = uniq("qos-glob-noack");
  const ch = await sem.channel();
  await fill(ch, q1, 3);
  await fill(ch, q2, 3);
  await ch.prefetch(1, true);
  const manual = new Inbox<amqp.ConsumeMessage>();
  let ackOnArrival = false;
  await ch.consume(
    q1,
    (m) => {
      if (!m) return;
      manual.push(m);
      if (ackOnArrival) ch.ack(m);
    },
    { noAck: false },
  );
  await manual.waitFor(1);
  const noAck = new Inbox<amqp.ConsumeMessage>();
  await ch.consume(q2, (m) => m && noAck.push(m), { noAck: true });
  // the queue answers after its consume took effect: all 3 still ready means none was sent
  assert.equal((await ch.checkQueue(q2)).messageCount, 3, "no-ack consumer held back while the window is full");
  assert.equal(noAck.items.length, 0);
  // from now on the window keeps freeing: the no-ack consumer gets its share
  ackOnArrival = true;
  ch.ack(manual.items[0]!);
  await noAck.waitFor(3);
  await manual.waitFor(3);
  await ch.deleteQueue(q1);
  await ch.deleteQueue(q2);
});

// rabbit_limiter:notify_queues: credit freed by an ack is offered to every queue the channel's
// window held back, not only to the queue that was acked — with prefetch 1 (global) and
// consumers on three queues of one channel, the first ten deliveries come from more than one
// queue (RabbitMQ picks the first queue to resume at random; all of them grouped would be a
// one-in-20,000 chance), and every message is delivered.
test("global prefetch 1 over three queues on one channel: freed credit rotates over the queues", async () => {
  const qs = [uniq("qos-rot-a"), uniq("qos-rot-b"), uniq("qos-rot-c")];
  const ch = await sem.channel();
  for (const q of qs) await fill(ch, q, 10);
  await ch.prefetch(1, true);
  const order: string[] = [];
  const all = new Inbox<string>();
  for (const q of qs) {
    await ch.consume(
      q,
      (m) => {
        if (!m) return;
        order.push(q);
        all.push(q);
        ch.ack(m);
      },
      { noAck: false },
    );
  }
  await all.waitFor(30, 10_000);
  assert.ok(new Set(order.slice(0, 10)).size > 1, `first ten deliveries all from one queue: ${order.slice(0, 10).join(" ")}`);
  for (const q of qs) await ch.deleteQueue(q);
});
