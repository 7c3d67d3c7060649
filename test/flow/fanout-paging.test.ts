/**
 * Backlogs of messages routed to several queues (a fanout, CC/BCC routing keys) page into the
 * compact per-message form (src/broker/paged-tail.ts) like a single queue's: the body goes to
 * scratch space once, the store counts the queues holding it, and each queue keeps a 33-byte
 * record per message instead of the shared Message object (which, once a fast queue's consumer
 * had read the body back from disk, kept every body in memory for the slow queue).
 *
 * RabbitMQ behaviour pinned (run with WARREN_TEST_URL against RabbitMQ too; the memory checks
 * are warren's own figures and skipped there): every queue bound to a fanout gets every message,
 * in publish order, exactly once, body intact; a queue without consumers keeps everything while
 * the others are consumed; a nack with requeue brings a message back with redelivered=true; BCC
 * routing keys route the message (rabbit_basic:header_routes) but the BCC header is stripped
 * before storage and delivery, CC and other headers are kept; a rejected message is
 * dead-lettered with its body and an x-death entry (reason rejected), without BCC.
 * Bounded: fixed message counts, every wait has a deadline; no timing is asserted.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import amqp from "amqplib";
import { startBroker, type TestBroker } from "../helpers/broker.js";
import { uniq } from "../interop/interop-helpers.js";

// small scratch files, so a leaked reference would keep files that should be gone
process.env.WARREN_TEST_SEGMENT_BYTES ??= String(1024 * 1024);
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

/** bodies kept in memory by all queues together before newly queued ones are paged out */
const QUEUE_MEMORY = 1024 * 1024;

let broker: TestBroker;
let conn: amqp.ChannelModel;

before(async () => {
  broker = await startBroker({ mgmt: true, options: { queueMemory: QUEUE_MEMORY } });
  conn = await amqp.connect(broker.url);
});
after(async () => {
  await conn?.close();
  await broker?.stop();
});

/** body of message `seq`: its number, then a pattern derived from it */
function body(seq: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  b.writeUInt32BE(seq, 0);
  for (let i = 4; i < size; i++) b[i] = (seq * 31 + i) & 0xff;
  return b;
}

function intact(b: Buffer, size: number): number {
  assert.equal(b.length, size, "body size");
  const seq = b.readUInt32BE(0);
  for (let i = 4; i < size; i++) if (b[i] !== ((seq * 31 + i) & 0xff)) assert.fail(`body of message ${seq} damaged at byte ${i}`);
  return seq;
}

async function publishAll(ch: amqp.ConfirmChannel, exchange: string, key: string, n: number, size: number, headers?: Record<string, unknown>, from = 0): Promise<void> {
  for (let seq = from; seq < n; seq++) {
    if (!ch.publish(exchange, key, body(seq, size), { headers })) await new Promise((r) => ch.once("drain", r));
    if (seq % 1000 === 999) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
}

async function until(what: string, cond: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function depth(ch: amqp.Channel, q: string): Promise<number> {
  return (await ch.checkQueue(q)).messageCount;
}

interface QueueInfo {
  messages: number;
  messages_paged_out: number;
  memory: number;
}

async function queueInfo(q: string): Promise<QueueInfo> {
  const u = new URL(broker.mgmtUrl!);
  const res = await fetch(`${u.protocol}//${u.host}/api/queues/%2F/${encodeURIComponent(q)}`, {
    headers: { authorization: "Basic " + Buffer.from("guest:guest").toString("base64") },
    signal: AbortSignal.timeout(5000),
  });
  assert.equal(res.status, 200);
  return (await res.json()) as QueueInfo;
}

function scratchFiles(): number {
  try {
    return readdirSync(join(broker.dataDir, "messages", "scratch")).filter((f) => f.endsWith(".wscr")).length;
  } catch {
    return 0;
  }
}

/** JS heap plus Buffers (the bodies are Buffers), after full collections */
function liveBytes(): number {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/**
 * Consume `n` messages from `q` with manual acks; check order and bodies, hand each to `check`.
 * `requeueFirst` messages are nacked with requeue on their first delivery and must come back
 * redelivered. Returns when all were settled.
 */
async function drain(q: string, n: number, size: number, check: (m: amqp.ConsumeMessage) => void = () => {}, requeueFirst = 0): Promise<void> {
  const ch = await conn.createChannel();
  await ch.prefetch(200);
  let next = 0;
  const pendingRedelivery = new Set<number>();
  let acked = 0;
  const seen = new Set<number>();
  let failure: unknown = null;
  await ch.consume(q, (m) => {
    if (m === null) return;
    try {
      const seq = intact(m.content, size);
      check(m);
      if (pendingRedelivery.delete(seq)) {
        assert.equal(m.fields.redelivered, true, `message ${seq} came back redelivered`);
      } else {
        assert.equal(seq, next, `${q}: message ${next} next in order`);
        assert.equal(m.fields.redelivered, false);
        next++;
        if (seq < requeueFirst) {
          pendingRedelivery.add(seq);
          ch.nack(m, false, true);
          return;
        }
      }
      assert.ok(!seen.has(seq), `${q}: message ${seq} delivered once`);
      seen.add(seq);
      ch.ack(m);
      acked++;
    } catch (e) {
      failure ??= e;
    }
  });
  await until(`${q} drained`, async () => failure !== null || acked === n);
  if (failure !== null) throw failure;
  assert.equal(pendingRedelivery.size, 0);
  await until(`${q} empty`, async () => (await depth(ch, q)) === 0);
  await ch.close();
}

test("a fanout with one unconsumed queue: the slow queue pages into the compact form, every message comes out intact, in order, once", async () => {
  const N = 30_000;
  const SIZE = 1024;
  const QUEUES = 4;
  const ch = await conn.createConfirmChannel();
  const x = uniq("fanout-paging-x");
  await ch.assertExchange(x, "fanout", { durable: false, autoDelete: false });
  const queues: string[] = [];
  for (let i = 0; i < QUEUES; i++) {
    const q = `${x}-q${i}`;
    await ch.assertQueue(q, { durable: false });
    await ch.bindQueue(q, x, "");
    queues.push(q);
  }
  const [slow, ...fast] = queues as [string, ...string[]];
  // the fast queues have no-ack consumers that check every message as it arrives
  const fastCh = await conn.createChannel();
  const fastNext = new Map<string, number>(fast.map((q) => [q, 0]));
  let fastFailure: unknown = null;
  for (const q of fast) {
    await fastCh.consume(
      q,
      (m) => {
        if (m === null) return;
        try {
          const seq = intact(m.content, SIZE);
          assert.equal(seq, fastNext.get(q), `${q}: in order`);
          fastNext.set(q, seq + 1);
        } catch (e) {
          fastFailure ??= e;
        }
      },
      { noAck: true },
    );
  }
  const publishUpTo = async (n: number, from: number) => {
    await publishAll(ch, x, "", n, SIZE, undefined, from);
    await until("fast consumers got everything", async () => fastFailure !== null || fast.every((q) => fastNext.get(q) === n));
    if (fastFailure !== null) throw fastFailure;
    await until("slow queue full", async () => (await depth(ch, slow)) === n);
  };
  // the first half fills the slow queue's in-memory head (up to QUEUE_MEMORY of bodies) and
  // starts the paging; what the second half adds is the cost of each further queued message
  await publishUpTo(N / 2, 0);
  const half = broker.external ? 0 : liveBytes();
  await publishUpTo(N, N / 2);
  if (!broker.external) {
    // the broker runs in this process: what the slow queue's backlog costs in heap and Buffers
    const perMessage = (liveBytes() - half) / (N / 2);
    const info = await queueInfo(slow);
    // before: the shared Message objects, with bodies read back by the fast queues' deliveries
    // (over 1 KiB per message here); now a 33-byte record and the scratch index's 12 bytes
    assert.ok(perMessage < 300, `slow queue backlog costs ${perMessage.toFixed(0)} B per message (limit 300)`);
    assert.ok(info.messages_paged_out > N / 2, `paged out: ${info.messages_paged_out} of ${N}`);
    assert.ok(info.memory / N < 150, `queue memory estimate ${info.memory} B for ${N} messages`);
  }
  await fastCh.close();
  // the first 50 are nacked with requeue once: they come back redelivered, then the rest in order
  await drain(slow, N, SIZE, () => {}, 50);
  if (!broker.external) assert.ok(scratchFiles() <= 1, `scratch files left after the drain: ${scratchFiles()}`);
  for (const q of queues) await ch.deleteQueue(q);
  await ch.deleteExchange(x);
  await ch.close();
});

test("BCC and CC routing keys: every queue pages into the compact form, consumers never see BCC, dead-lettering keeps bodies", async () => {
  const N = 10_000;
  const SIZE = 512;
  const ch = await conn.createConfirmChannel();
  const x = uniq("bcc-paging-x");
  const dlx = `${x}-dlx`;
  const [qa, qb, qc, qcc, qdl] = ["a", "b", "c", "cc", "dl"].map((k) => `${x}-${k}`) as [string, string, string, string, string];
  await ch.assertExchange(x, "direct", { durable: false });
  await ch.assertExchange(dlx, "fanout", { durable: false });
  await ch.assertQueue(qa, { durable: false });
  await ch.assertQueue(qb, { durable: false });
  await ch.assertQueue(qc, { durable: false, arguments: { "x-dead-letter-exchange": dlx } });
  await ch.assertQueue(qcc, { durable: false });
  await ch.assertQueue(qdl, { durable: false });
  await ch.bindQueue(qa, x, "a");
  await ch.bindQueue(qb, x, "b");
  await ch.bindQueue(qc, x, "c");
  await ch.bindQueue(qcc, x, "cc");
  await ch.bindQueue(qdl, dlx, "");
  await publishAll(ch, x, "a", N, SIZE, { BCC: ["b", "c"], CC: ["cc"], tag: "kept" });
  for (const q of [qa, qb, qc, qcc]) await until(`${q} full`, async () => (await depth(ch, q)) === N);
  if (!broker.external) {
    for (const q of [qa, qb, qc, qcc]) {
      const info = await queueInfo(q);
      assert.ok(info.messages_paged_out > N / 2, `${q} paged out: ${info.messages_paged_out} of ${N}`);
      // object form: ~300 B per message in this estimate; compact records 33 B
      assert.ok(info.memory / N < 150, `${q}: queue memory estimate ${info.memory} B for ${N} messages`);
    }
  }
  const noBcc = (m: amqp.ConsumeMessage) => {
    const h = m.properties.headers ?? {};
    assert.equal(h["BCC"], undefined, "BCC header stripped");
    assert.equal(h["tag"], "kept");
    assert.deepEqual(h["CC"], ["cc"], "CC header kept");
  };
  for (const q of [qa, qb, qcc]) await drain(q, N, SIZE, noBcc);
  // qc rejects everything: dead-lettered to qdl with body, x-death and still no BCC
  const rej = await conn.createChannel();
  await rej.prefetch(500);
  let rejected = 0;
  await rej.consume(qc, (m) => {
    if (m === null) return;
    rej.nack(m, false, false);
    rejected++;
  });
  await until("qc rejected everything", async () => rejected === N);
  await rej.close();
  await until("dead letters queued", async () => (await depth(ch, qdl)) === N);
  await drain(qdl, N, SIZE, (m) => {
    assert.equal(m.properties.headers?.["BCC"], undefined, "BCC header stripped from the dead letter");
    const death = (m.properties.headers?.["x-death"] as { reason: string; queue: string }[] | undefined)?.[0];
    assert.equal(death?.reason, "rejected");
    assert.equal(death?.queue, qc);
  });
  if (!broker.external) assert.ok(scratchFiles() <= 1, `scratch files left after the drains: ${scratchFiles()}`);
  for (const q of [qa, qb, qc, qcc, qdl]) await ch.deleteQueue(q);
  await ch.deleteExchange(x);
  await ch.deleteExchange(dlx);
  await ch.close();
});
