/**
 * Flow control under an unpaced publisher (src/broker/flow.ts): a separate process floods one
 * queue as fast as TCP allows while a consumer with manual acks works through it.
 *
 * What RabbitMQ guarantees and these tests pin (run with WARREN_TEST_URL against RabbitMQ
 * too; the flow-window and "flow"-state checks are warren's own figures and skipped there):
 * the consumer keeps being served while the publisher floods (its share of deliveries stays
 * well above a generous floor), nothing is lost, duplicated or reordered once the publisher
 * stops and the queue drains, and a queue without consumers still takes everything (queues
 * are buffers; flow control only holds a publisher that outruns consumers).
 * Bounded: each flood lasts FLOOD_MS; every wait has a deadline; no timing is asserted.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import amqp from "amqplib";
import { repoRoot, startBrokerProcess, tempDir, type BrokerProcess } from "../helpers/broker.js";
import { FLOW_WINDOW } from "../../src/broker/queue.js";
import { sleep, uniq } from "../interop/interop-helpers.js";

const FLOOD_MS = 4000;
const PUBLISHER = join(repoRoot, "test", "flow", "flood-publisher.mjs");

let broker: BrokerProcess | null = null;
let url = process.env.WARREN_TEST_URL ?? "";
const external = url !== "";

before(async () => {
  if (external) return;
  broker = await startBrokerProcess(tempDir());
  url = broker.url;
});
after(async () => {
  await broker?.stop();
});

/** Run the flood publisher in its own process; resolves with how many it published. */
function flood(queue: string, ms = FLOOD_MS): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [PUBLISHER, url, queue, String(ms)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => p.kill("SIGKILL"), ms + 30_000);
    p.once("exit", (code) => {
      clearTimeout(t);
      if (code !== 0) return reject(new Error(`flood publisher exited ${code}: ${err}`));
      resolve((JSON.parse(out) as { published: number }).published);
    });
  });
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

async function connectionStates(): Promise<string[]> {
  const u = new URL(broker!.mgmtUrl!);
  const res = await fetch(`${u.protocol}//${u.host}/api/connections`, {
    headers: { authorization: "Basic " + Buffer.from("guest:guest").toString("base64") },
    signal: AbortSignal.timeout(5000),
  });
  return ((await res.json()) as { state: string }[]).map((c) => c.state);
}

/** Sample queue depth, broker RSS and connection states until `done` settles. */
async function sampleWhile(done: Promise<unknown>, ch: amqp.Channel, queue: string) {
  let settled = false;
  void done.finally(() => (settled = true)).catch(() => {});
  const s = { maxDepth: 0, maxRss: 0, sawFlow: false };
  while (!settled) {
    s.maxDepth = Math.max(s.maxDepth, (await ch.checkQueue(queue)).messageCount);
    if (broker) {
      s.maxRss = Math.max(s.maxRss, rssBytes(broker.child.pid!));
      if ((await connectionStates()).includes("flow")) s.sawFlow = true;
    }
    await sleep(100);
  }
  return s;
}

test("an acking consumer keeps its share while an unpaced publisher floods its queue; nothing is lost or reordered", async () => {
  const conn = await amqp.connect(url);
  try {
    const ctl = await conn.createChannel();
    const q = uniq("flow-1-1");
    await ctl.assertQueue(q, { durable: false });
    const ch = await conn.createChannel();
    await ch.prefetch(100);
    let received = 0;
    let next = 0;
    let disorder = "";
    await ch.consume(q, (m) => {
      if (!m) return;
      const seq = m.content.readUInt32BE(0);
      if (seq !== next && !disorder) disorder = `expected message ${next}, got ${seq}`;
      next = seq + 1;
      received++;
      if (received % 50 === 0) ch.ack(m, true);
    });
    const published = flood(q);
    const samples = await sampleWhile(published, ctl, q);
    const total = await published;
    const atEnd = received;
    const deadline = Date.now() + 60_000;
    while (received < total && Date.now() < deadline) await sleep(50);
    assert.equal(disorder, "", "deliveries out of publish order");
    assert.equal(received, total, `consumer got ${received} of ${total} published messages`);
    // generous: RabbitMQ's consumer keeps ~70-100% here; a starved one gets well under 1%
    assert.ok(atEnd >= total * 0.2, `while flooding the consumer got only ${atEnd} of ${total} (${((100 * atEnd) / total).toFixed(1)}%)`);
    if (broker) {
      // warren's own bounds: the queue never ran more than one flow window (plus what was in
      // flight when the publisher was held) ahead of its consumer, and the broker stayed small
      assert.ok(samples.maxDepth <= 3 * FLOW_WINDOW.messages, `queue depth reached ${samples.maxDepth}`);
      assert.ok(samples.maxRss < 400 * 1024 * 1024, `broker RSS reached ${(samples.maxRss / 2 ** 20).toFixed(0)} MiB`);
      assert.ok(samples.sawFlow, "the management API never showed the publishing connection in state 'flow'");
    }
    await ch.close();
    await ctl.deleteQueue(q);
  } finally {
    await conn.close();
  }
});

test("a queue without consumers is a buffer: the flood is taken, not held", async () => {
  const conn = await amqp.connect(url);
  try {
    const ctl = await conn.createChannel();
    const q = uniq("flow-buffer");
    await ctl.assertQueue(q, { durable: false });
    const total = await flood(q, 1500);
    // everything the publisher sent is queued (RabbitMQ's queue process may still be working
    // through its mailbox when the publisher's connection closes: poll)
    const deadline = Date.now() + 30_000;
    let depth = 0;
    while ((depth = (await ctl.checkQueue(q)).messageCount) < total && Date.now() < deadline) await sleep(50);
    assert.equal(depth, total);
    if (broker) assert.ok(total > FLOW_WINDOW.messages, `the publisher only got ${total} messages out in 1.5 s: was it held?`);
    await ctl.deleteQueue(q);
  } finally {
    await conn.close();
  }
});

test("a consumer that stops acking does not hold the publisher for good", async () => {
  const conn = await amqp.connect(url);
  try {
    const ctl = await conn.createChannel();
    const q = uniq("flow-stalled");
    await ctl.assertQueue(q, { durable: false });
    const ch = await conn.createChannel();
    await ch.prefetch(10);
    let got = 0;
    await ch.consume(q, () => void got++); // never acks: 10 deliveries, then nothing
    const total = await flood(q, 3000);
    const deadline = Date.now() + 30_000;
    let depth = 0;
    while ((depth = (await ctl.checkQueue(q)).messageCount) < total - got && Date.now() < deadline) await sleep(50);
    assert.equal(got, 10);
    assert.equal(depth, total - 10, "every message but the 10 unacked ones is queued");
    // held for at most the stall time, then let through: far more than one window got in
    if (broker) assert.ok(total > 2 * FLOW_WINDOW.messages, `only ${total} messages published in 3 s: the stalled consumer held the publisher`);
    await ch.close();
    await ctl.deleteQueue(q);
  } finally {
    await conn.close();
  }
});
