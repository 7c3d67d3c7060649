/**
 * Disk full: the broker's data directory on a 4 MiB tmpfs (needs root and
 * mount(8); the tests skip, saying why, where that is not possible).
 *
 * RabbitMQ behaviour pinned down:
 *  - with the disk alarm off, running out of space mid-write turns publisher
 *    confirms into basic.nack (the broker could not take responsibility), the
 *    broker stays up, everything confirmed before survives a crash and a restart
 *    on the still-full disk, and publishing works again once space is freed;
 *  - with --disk-free-limit, the disk alarm blocks publishing connections
 *    (connection.blocked to clients that announced the capability) before the
 *    disk fills, consumers on other connections keep draining, and the alarm
 *    clears (connection.unblocked) when space is freed; nothing is lost.
 * Unmounting happens in `finally`, whatever the outcome.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type amqp from "amqplib";
import { AMQPClient } from "@cloudamqp/amqp-client";
import { abandon, checkBody, closeQuietly, connect, makeBody, readAll, removeDir, sleep, startWarrenChild, tempDir } from "./helpers.js";
import type { BrokerProcess } from "../helpers/broker.js";

const BODY = 8 * 1024 - 30; // makeBody adds 30 bytes: 8 KiB bodies

/** Mount a tmpfs of `size` on a fresh directory; null (with the reason) when this machine cannot. */
function mountTmpfs(size: string): { dir: string; unmount(): void } | string {
  if (process.getuid?.() !== 0) return "needs root to mount a tmpfs";
  const dir = tempDir("warren-diskfull-");
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { encoding: "utf8" });
  if (r.status !== 0) {
    removeDir(dir);
    return `cannot mount a tmpfs here: ${(r.stderr || r.error?.message || "").trim()}`;
  }
  return {
    dir,
    unmount() {
      spawnSync("umount", ["-l", dir]);
      removeDir(dir);
    },
  };
}

interface PublishOutcome {
  acked: number[];
  nacked: number[];
}

/**
 * Publish persistent messages with confirms (window of `window`), seq from `from`,
 * until `stop` says so or `max` were published. Records which were acked/nacked.
 */
async function publishUntil(ch: amqp.ConfirmChannel, queue: string, from: number, max: number, window: number, stop: (o: PublishOutcome) => boolean, paceMs = 0): Promise<PublishOutcome> {
  const o: PublishOutcome = { acked: [], nacked: [] };
  let outstanding = 0;
  let wake: (() => void) | null = null;
  for (let seq = from; seq < from + max && !stop(o); seq++) {
    while (outstanding >= window) await new Promise<void>((r) => (wake = r));
    if (paceMs > 0) await sleep(paceMs);
    outstanding++;
    ch.publish("", queue, makeBody(1, seq, BODY), { persistent: true }, (err) => {
      outstanding--;
      (err ? o.nacked : o.acked).push(seq);
      wake?.();
    });
  }
  while (outstanding > 0) await new Promise<void>((r) => (wake = r));
  return o;
}

/** Every message in the queue is intact and in order; returns their seqs. */
async function intactSeqs(url: string, queue: string): Promise<number[]> {
  const c = await connect(url);
  try {
    const seqs = (await readAll(c, queue)).map((m) => checkBody(m.content).seq);
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, `order broken at ${i}: ${seqs[i]} after ${seqs[i - 1]}`);
    return seqs;
  } finally {
    await closeQuietly(c);
  }
}

function assertContains(have: number[], want: number[], what: string): void {
  const s = new Set(have);
  const missing = want.filter((n) => !s.has(n));
  assert.deepEqual(missing, [], `${what}: confirmed messages missing`);
}

test("ENOSPC: confirms become nacks, the broker stays up, confirmed messages survive, publishing resumes when space is freed", { timeout: 120_000 }, async (t) => {
  const m = mountTmpfs("4m");
  if (typeof m === "string") return t.skip(m);
  let b: BrokerProcess | null = null;
  try {
    const dataDir = join(m.dir, "data");
    mkdirSync(dataDir);
    // ballast that the "operator" deletes later to free space
    writeFileSync(join(m.dir, "ballast"), Buffer.alloc(1024 * 1024, 1));
    b = await startWarrenChild(dataDir, ["--disk-free-limit", "0"]);
    let c = await connect(b.url);
    let ch = await c.createConfirmChannel();
    await ch.assertQueue("full", { durable: true });

    // 1. fill the disk: stop after 20 nacks
    const fill = await publishUntil(ch, "full", 1, 2000, 50, (o) => o.nacked.length >= 20);
    assert.ok(fill.acked.length > 100, `only ${fill.acked.length} confirmed before the disk filled`);
    assert.ok(fill.nacked.length >= 20, `the disk never filled: ${fill.acked.length} acked, no nacks`);
    assert.equal(b.child.exitCode, null, "the broker must not crash on ENOSPC");
    assert.match(b.stderr(), /store: write failed \(ENOSPC\)/, b.stderr());
    // still serving: a new connection and a passive declare work
    const probe = await connect(b.url);
    const pch = await probe.createChannel();
    const { messageCount } = await pch.checkQueue("full");
    assert.ok(messageCount >= fill.acked.length);
    await closeQuietly(probe);

    // 2. crash with the disk full, restart on the still-full disk: it starts, confirmed messages are there
    await b.kill();
    await abandon(c);
    b = await startWarrenChild(dataDir, ["--disk-free-limit", "0"]);
    const afterCrash = await intactSeqs(b.url, "full");
    assertContains(afterCrash, fill.acked, "after kill -9 on a full disk");
    // publishing on the full disk: nacked again, not a crash
    c = await connect(b.url);
    ch = await c.createConfirmChannel();
    const more = await publishUntil(ch, "full", 100_000, 200, 20, (o) => o.nacked.length >= 5);
    assert.ok(more.nacked.length >= 5, `disk still full, yet ${more.acked.length} acked and no nack`);
    assert.equal(b.child.exitCode, null);

    // 3. the operator frees space: publishing works again on the same connection's broker
    rmSync(join(m.dir, "ballast"));
    const ch2 = await c.createConfirmChannel();
    const resumed = await publishUntil(ch2, "full", 200_000, 20, 10, () => false);
    assert.deepEqual(resumed.nacked, [], "after space was freed, publishes must be confirmed");
    assert.equal(resumed.acked.length, 20);
    assert.match(b.stderr(), /store: writes succeed again/, b.stderr());
    await closeQuietly(c);

    // 4. and all of it survives a restart
    await b.stop();
    b = await startWarrenChild(dataDir, ["--disk-free-limit", "0"]);
    const final = await intactSeqs(b.url, "full");
    assertContains(final, [...fill.acked, ...more.acked, ...resumed.acked], "after freeing space and restarting");
  } finally {
    await b?.kill();
    m.unmount();
  }
});

test("ENOSPC: a nacked message is never delivered, neither now nor after space is freed and the broker restarts", { timeout: 120_000 }, async (t) => {
  // A publisher that resends what was nacked must not get the nacked copy delivered as well:
  // RabbitMQ's confirms contract is that a nack means the broker did not take the message.
  const m = mountTmpfs("4m");
  if (typeof m === "string") return t.skip(m);
  let b: BrokerProcess | null = null;
  try {
    const dataDir = join(m.dir, "data");
    mkdirSync(dataDir);
    writeFileSync(join(m.dir, "ballast"), Buffer.alloc(1024 * 1024, 1));
    b = await startWarrenChild(dataDir, ["--disk-free-limit", "0"]);
    const c = await connect(b.url);
    const ch = await c.createConfirmChannel();
    await ch.assertQueue("nacked", { durable: true });
    // a backlog (no consumer yet), so the nacked messages sit in the queue when their write fails
    const fill = await publishUntil(ch, "nacked", 1, 2000, 50, (o) => o.nacked.length >= 30);
    assert.ok(fill.nacked.length >= 30, `the disk never filled: ${fill.acked.length} acked`);
    assert.match(b.stderr(), /nacked message\(s\) taken back from their queues/, b.stderr());
    const nacked = new Set(fill.nacked);
    const { messageCount } = await ch.checkQueue("nacked");
    assert.equal(messageCount, fill.acked.length, "the queue holds exactly the confirmed messages");

    // a transaction on the full disk: its commit cannot be made durable, so no commit-ok (that
    // would claim the message is safe); the connection fails with 541 as in rabbit_channel,
    // and the message is not left in the queue
    const tc = new AMQPClient(b.url);
    await tc.connect();
    const tch = await tc.channel();
    await tch.txSelect();
    await tch.basicPublish("", "nacked", makeBody(1, 999_999, BODY), { deliveryMode: 2 });
    await assert.rejects(tch.txCommit(), /INTERNAL_ERROR - tx.commit failed: the message store could not write \(ENOSPC\)/);
    await tc.close().catch(() => {});
    nacked.add(999_999);

    // space comes back: the pending writes are retried; what was nacked must stay gone
    rmSync(join(m.dir, "ballast"));
    const resumed = await publishUntil(ch, "nacked", 100_000, 20, 10, () => false);
    assert.deepEqual(resumed.nacked, []);
    const seen = await intactSeqs(b.url, "nacked");
    assert.deepEqual(
      seen.filter((s) => nacked.has(s)),
      [],
      "nacked messages were delivered",
    );
    assert.deepEqual(
      seen,
      [...fill.acked, ...resumed.acked].sort((x, y) => x - y),
    );
    await closeQuietly(c);

    // and after a restart (the queue was only read with requeue: everything is still there)
    await b.stop();
    b = await startWarrenChild(dataDir, ["--disk-free-limit", "0"]);
    const after = await intactSeqs(b.url, "nacked");
    assert.deepEqual(
      after.filter((s) => nacked.has(s)),
      [],
      "nacked messages came back after a restart",
    );
    assertContains(after, [...fill.acked, ...resumed.acked], "after a restart");
  } finally {
    await b?.kill();
    m.unmount();
  }
});

test("disk alarm: publishers are blocked before the disk fills, consumers keep draining, unblocked when space is freed", { timeout: 120_000 }, async (t) => {
  const m = mountTmpfs("4m");
  if (typeof m === "string") return t.skip(m);
  let b: BrokerProcess | null = null;
  try {
    const dataDir = join(m.dir, "data");
    mkdirSync(dataDir);
    writeFileSync(join(m.dir, "ballast"), Buffer.alloc(1536 * 1024, 1));
    // 4 MiB - 1.5 MiB ballast leaves ~2.5 MiB; alarm below 1.5 MB free
    b = await startWarrenChild(dataDir, ["--disk-free-limit", "1500000"]);
    const c = await connect(b.url);
    const events: string[] = [];
    c.on("blocked", (reason: string) => events.push(`blocked:${reason}`));
    c.on("unblocked", () => events.push("unblocked"));
    const ch = await c.createConfirmChannel();
    await ch.assertQueue("alarm", { durable: true });
    // publish ~100 msgs/s (0.8 MB/s), slow enough that the alarm (polled every second)
    // fires well before the disk is really full; stop publishing once blocked
    const run = publishUntil(ch, "alarm", 1, 400, 20, () => events.length > 0, 10);
    const deadline = Date.now() + 30_000;
    while (!events.some((e) => e.startsWith("blocked")) && Date.now() < deadline) await sleep(50);
    assert.ok(
      events.some((e) => e.startsWith("blocked")),
      `never blocked; broker log:\n${b.stderr()}`,
    );
    assert.match(b.stderr(), /disk resource limit alarm set/);
    assert.equal(b.child.exitCode, null);

    // consumers on another connection keep draining while publishers are blocked
    const cc = await connect(b.url);
    const gch = await cc.createChannel();
    const got = await gch.get("alarm", { noAck: false });
    assert.ok(got !== false, "a consumer can fetch while the alarm is on");
    checkBody(got.content);
    gch.nack(got, false, true); // back to the queue
    await gch.checkQueue("alarm");
    await closeQuietly(cc);

    // free space: the alarm clears, the blocked publisher is unblocked and its confirms arrive
    rmSync(join(m.dir, "ballast"));
    const o = await run;
    const deadline2 = Date.now() + 10_000;
    while (!events.includes("unblocked") && Date.now() < deadline2) await sleep(50);
    assert.ok(events.includes("unblocked"), `not unblocked: ${events.join(",")}`);
    assert.deepEqual(o.nacked, [], "under the alarm nothing is nacked: publishers wait");
    await closeQuietly(c);
    await b.kill();
    b = await startWarrenChild(dataDir, ["--disk-free-limit", "1500000"]);
    assertContains(await intactSeqs(b.url, "alarm"), o.acked, "after kill -9");
  } finally {
    await b?.kill();
    m.unmount();
  }
});
