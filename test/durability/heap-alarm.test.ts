/**
 * The memory alarm also guards V8's heap limit (src/main/alarms.ts). Queue metadata
 * lives on the JS heap, whose limit (~4 GiB by default) can be far below the RSS
 * watermark (40 % of RAM); before this guard, a 10-million-message backlog ended the
 * broker with "JavaScript heap out of memory" at restart instead of blocking
 * publishers. RabbitMQ behaviour pinned down (memory alarm): publishing connections
 * get connection.blocked and are no longer read, consumers on other connections keep
 * draining, nothing queued is lost, connection.unblocked follows once memory is freed.
 *
 * The broker runs as a child with a 128 MB heap (NODE_OPTIONS=--max-old-space-size=128)
 * so that a few hundred thousand small queued messages reach the limit in seconds.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type amqp from "amqplib";
import { closeQuietly, connect, removeDir, sleep, startWarrenChild, tempDir } from "./helpers.js";
import type { BrokerProcess } from "../helpers/broker.js";

test("heap guard: publishers are blocked near V8's heap limit, not crashed; consumers drain; unblocked after", { timeout: 120_000 }, async () => {
  const dir = tempDir("warren-heap-");
  let b: BrokerProcess | null = null;
  let pub: amqp.ChannelModel | null = null;
  let sub: amqp.ChannelModel | null = null;
  try {
    b = await startWarrenChild(dir, [], { NODE_OPTIONS: "--max-old-space-size=128" });
    pub = await connect(b.url);
    const events: string[] = [];
    pub.on("blocked", (reason: string) => events.push(`blocked:${reason}`));
    pub.on("unblocked", () => events.push("unblocked"));
    const ch = await pub.createChannel();
    await ch.assertQueue("heap", { durable: false });

    // publish distinct 64-byte messages until the broker blocks us (or 1,000,000 as a bound)
    let sent = 0;
    const deadline = Date.now() + 60_000;
    while (!events.length && sent < 1_000_000 && Date.now() < deadline) {
      for (let i = 0; i < 500; i++) {
        const body = Buffer.alloc(64, 0x61);
        body.writeUInt32BE(sent, 0);
        ch.sendToQueue("heap", body, { headers: { n: sent } });
        sent++;
      }
      await sleep(5); // let amqplib flush and the blocked notification in
    }
    assert.ok(events[0]?.startsWith("blocked"), `never blocked after ${sent} messages; broker log:\n${b.stderr()}`);
    assert.match(b.stderr(), /memory resource limit alarm set: JS heap/);
    assert.equal(b.child.exitCode, null, "the broker is still running");

    // a consumer on another connection drains everything that reached the queue, in order
    sub = await connect(b.url);
    const sch = await sub.createChannel();
    await sch.prefetch(1000);
    let next = 0;
    let outOfOrder = 0;
    await sch.consume("heap", (m) => {
      if (!m) return;
      if (m.content.readUInt32BE(0) !== next) outOfOrder++;
      next = m.content.readUInt32BE(0) + 1;
      sch.ack(m);
    });
    // the blocked publisher's socket still holds unread messages: they arrive after unblocking
    const drainDeadline = Date.now() + 60_000;
    while ((next < sent || !events.includes("unblocked")) && Date.now() < drainDeadline) await sleep(100);
    assert.ok(events.includes("unblocked"), `not unblocked: ${events.join(",")}; broker log:\n${b.stderr()}`);
    assert.equal(next, sent, `every published message was delivered (${next} of ${sent})`);
    assert.equal(outOfOrder, 0, "delivered in publish order");
    assert.match(b.stderr(), /memory resource limit alarm cleared/);
    assert.equal(b.child.exitCode, null);
  } finally {
    await closeQuietly(sub);
    await closeQuietly(pub);
    await b?.stop();
    removeDir(dir);
  }
});
