/**
 * Restart tests: what survives a clean stop (SIGTERM) and a kill -9 of the
 * broker, for every durable/transient combination, plus definitions, repairs
 * of a torn or damaged log, and the data directory's format guard.
 *
 * RabbitMQ behaviour pinned down (per test below): durable queue + persistent
 * message survives; transient messages and non-durable queues/exchanges do not;
 * exclusive queues never come back; durable exchanges and the bindings between
 * durable ends survive and route; a durable auto-delete queue is recovered and
 * is deleted only once it has had a consumer; deleted and purged queues stay
 * deleted/purged; vhosts, users and permissions survive.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, openSync, readdirSync, readSync, statSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import type amqp from "amqplib";
import { spawnSync } from "node:child_process";
import { abandon, checkBody, closeQuietly, connect, drainAll, makeBody, readAll, recoveryLine, removeDir, startWarrenChild, tempDir } from "./helpers.js";
import { repoRoot, type BrokerProcess } from "../helpers/broker.js";
import { waitFor } from "../helpers/wait.js";

async function restart(b: BrokerProcess, how: "stop" | "kill", extraArgs: string[] = []): Promise<BrokerProcess> {
  await (how === "stop" ? b.stop() : b.kill());
  return startWarrenChild(b.dataDir, extraArgs);
}

/** Does a queue / exchange exist? (passive declare on a throwaway channel: a 404 closes it) */
async function exists(c: amqp.ChannelModel, kind: "queue" | "exchange", name: string): Promise<boolean> {
  const ch = await c.createChannel();
  ch.on("error", () => {});
  try {
    if (kind === "queue") await ch.checkQueue(name);
    else await ch.checkExchange(name);
    await ch.close();
    return true;
  } catch (e) {
    assert.match((e as Error).message, /404|NOT_FOUND/, `unexpected error on passive declare of ${name}`);
    return false;
  }
}

function seqs(msgs: amqp.ConsumeMessage[]): number[] {
  return msgs.map((m) => checkBody(m.content).seq);
}

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

for (const how of ["stop", "kill"] as const) {
  // RabbitMQ: durable queue + delivery_mode 2 survives; delivery_mode 1 in the same queue does not;
  // a non-durable queue is gone whatever its messages; an exclusive queue is never recovered.
  test(`queues and messages across ${how === "stop" ? "a clean stop" : "kill -9"}: durable/transient combinations`, { timeout: 60_000 }, async () => {
    const dir = tempDir("warren-restart-");
    let b = await startWarrenChild(dir);
    try {
      const c = await connect(b.url);
      const ch = await c.createConfirmChannel();
      await ch.assertQueue("dq", { durable: true });
      await ch.assertQueue("tq", { durable: false });
      await ch.assertQueue("xq", { durable: true, exclusive: true });
      for (let i = 1; i <= 20; i++) {
        // odd: persistent, even: transient — in one durable queue
        ch.publish("", "dq", makeBody(1, i, 100 + i), { persistent: i % 2 === 1 });
        ch.publish("", "tq", makeBody(2, i, 50), { persistent: true });
        ch.publish("", "xq", makeBody(3, i, 50), { persistent: true });
      }
      await ch.waitForConfirms();
      if (how === "kill") {
        // kill -9 with the exclusive owner still connected
        b = await restart(b, "kill");
        await abandon(c);
      } else {
        await closeQuietly(c);
        b = await restart(b, "stop");
      }
      const rec = recoveryLine(b.stderr());
      assert.deepEqual(rec && { q: rec.queues, m: rec.messages }, { q: 1, m: 10 }, b.stderr());
      const c2 = await connect(b.url);
      const got = await readAll(c2, "dq");
      assert.deepEqual(seqs(got), [1, 3, 5, 7, 9, 11, 13, 15, 17, 19], "persistent messages back in order, transient ones gone");
      assert.ok(got.every((m) => m.fields.redelivered === true || m.fields.redelivered === false));
      assert.equal(got[0]!.properties.deliveryMode, 2);
      assert.equal(await exists(c2, "queue", "tq"), false, "non-durable queue must be gone");
      assert.equal(await exists(c2, "queue", "xq"), false, "exclusive queue must never come back");
      // the name of the exclusive queue is free again for another connection
      const ch2 = await c2.createChannel();
      await ch2.assertQueue("xq", { durable: true, exclusive: true });
      await closeQuietly(c2);
    } finally {
      await b.kill();
      removeDir(dir);
    }
  });

  // RabbitMQ 3.10's quorum queues keep every message, whatever its delivery mode (all of them go
  // to the Raft log; checked on a 3.10.8 node: a delivery_mode 1 message in a quorum queue survives
  // a restart, the same message in a durable classic queue does not). A transient message routed
  // to both is kept for the quorum queue only; acking it there removes it for good.
  test(`quorum queues keep transient messages across ${how === "stop" ? "a clean stop" : "kill -9"}`, { timeout: 60_000 }, async () => {
    const dir = tempDir("warren-restart-");
    let b = await startWarrenChild(dir);
    try {
      const c = await connect(b.url);
      const ch = await c.createConfirmChannel();
      await ch.assertQueue("qq", { durable: true, arguments: { "x-queue-type": "quorum" } });
      await ch.assertQueue("cq", { durable: true });
      await ch.assertExchange("both", "fanout", { durable: true });
      await ch.bindQueue("qq", "both", "");
      await ch.bindQueue("cq", "both", "");
      for (let i = 1; i <= 6; i++) ch.publish("both", "", makeBody(1, i, 64), { persistent: i > 4 });
      await ch.waitForConfirms();
      // one transient message consumed and acked before the restart: it must not come back
      const first = await ch.get("qq", { noAck: false });
      assert.ok(first && checkBody(first.content).seq === 1);
      ch.ack(first);
      // the ack has reached the broker once a publish after it on the same channel is confirmed
      // (amqplib's close() right after an ack can lose it; RabbitMQ then requeues it too)
      ch.publish("", "nowhere", Buffer.from("barrier"));
      await ch.waitForConfirms();
      if (how === "kill") {
        b = await restart(b, "kill");
        await abandon(c);
      } else {
        await closeQuietly(c);
        b = await restart(b, "stop");
      }
      const c2 = await connect(b.url);
      assert.deepEqual(seqs(await readAll(c2, "qq")), [2, 3, 4, 5, 6], "the quorum queue kept its transient messages (not the acked one)");
      assert.deepEqual(seqs(await readAll(c2, "cq")), [5, 6], "the classic queue kept only the persistent ones");
      await closeQuietly(c2);
    } finally {
      await b.kill();
      removeDir(dir);
    }
  });

  // RabbitMQ (classic queues keep a "delivered" mark in their index): after a restart, messages
  // that had been delivered and not acked come back redelivered=true, messages never delivered
  // come back redelivered=false (warren once marked every recovered message redelivered).
  test(`redelivered after ${how === "stop" ? "a clean stop" : "kill -9"}: only for messages delivered before it`, { timeout: 60_000 }, async () => {
    const dir = tempDir("warren-restart-");
    let b = await startWarrenChild(dir);
    try {
      const c = await connect(b.url);
      const ch = await c.createConfirmChannel();
      await ch.assertQueue("rq", { durable: true });
      await ch.assertQueue("rq2", { durable: true });
      for (let i = 1; i <= 5; i++) ch.publish("", "rq", makeBody(1, i, 64), { persistent: true });
      await ch.waitForConfirms();
      // deliver 1 and 2 (not acked): one to a consumer, one through basic.get
      const held: amqp.ConsumeMessage[] = [];
      const cons = await c.createChannel();
      await cons.prefetch(1);
      await cons.consume("rq", (m) => m && held.push(m), { noAck: false });
      await waitFor("the first delivery", () => held.length === 1, 5000, 10);
      const getter = await c.createChannel();
      const got = await getter.get("rq", { noAck: false });
      assert.ok(got && checkBody(got.content).seq === 2);
      // a confirmed publish afterwards: the store's group commit has flushed the delivered marks
      ch.publish("", "rq2", makeBody(2, 1, 8), { persistent: true });
      await ch.waitForConfirms();
      if (how === "kill") {
        b = await restart(b, "kill");
        await abandon(c);
      } else {
        await closeQuietly(c);
        b = await restart(b, "stop");
      }
      const c2 = await connect(b.url);
      const back = await readAll(c2, "rq");
      assert.deepEqual(
        back.map((m) => [checkBody(m.content).seq, m.fields.redelivered]),
        [
          [1, true],
          [2, true],
          [3, false],
          [4, false],
          [5, false],
        ],
      );
      await closeQuietly(c2);
    } finally {
      await b.kill();
      removeDir(dir);
    }
  });

  // RabbitMQ: durable exchanges and bindings whose both ends are durable survive and route;
  // non-durable exchanges and bindings to non-durable queues disappear.
  test(`exchanges and bindings across ${how === "stop" ? "a clean stop" : "kill -9"}`, { timeout: 60_000 }, async () => {
    const dir = tempDir("warren-restart-");
    let b = await startWarrenChild(dir);
    try {
      const c = await connect(b.url);
      const ch = await c.createChannel();
      await ch.assertExchange("dx.topic", "topic", { durable: true });
      await ch.assertExchange("dx.e2e", "fanout", { durable: true });
      await ch.assertExchange("tx.direct", "direct", { durable: false });
      await ch.assertQueue("bq", { durable: true });
      await ch.assertQueue("bq2", { durable: true });
      await ch.assertQueue("tbq", { durable: false });
      await ch.bindQueue("bq", "dx.topic", "orders.#");
      await ch.bindQueue("tbq", "dx.topic", "orders.#");
      await ch.bindExchange("dx.e2e", "dx.topic", "audit.*"); // exchange-to-exchange
      await ch.bindQueue("bq2", "dx.e2e", "");
      await ch.bindQueue("bq", "dx.topic", "removed.key");
      await ch.unbindQueue("bq", "dx.topic", "removed.key");
      await closeQuietly(c);
      b = await restart(b, how);
      const c2 = await connect(b.url);
      assert.equal(await exists(c2, "exchange", "dx.topic"), true);
      assert.equal(await exists(c2, "exchange", "dx.e2e"), true);
      assert.equal(await exists(c2, "exchange", "tx.direct"), false, "non-durable exchange must be gone");
      assert.equal(await exists(c2, "queue", "tbq"), false);
      const pub = await c2.createConfirmChannel();
      pub.publish("dx.topic", "orders.eu.1", makeBody(1, 1, 10), { persistent: true });
      pub.publish("dx.topic", "audit.login", makeBody(1, 2, 10), { persistent: true });
      pub.publish("dx.topic", "removed.key", makeBody(1, 3, 10), { persistent: true });
      await pub.waitForConfirms();
      assert.deepEqual(seqs(await readAll(c2, "bq")), [1], "topic binding survived; the unbound key stayed unbound");
      assert.deepEqual(seqs(await readAll(c2, "bq2")), [2], "exchange-to-exchange binding survived");
      await closeQuietly(c2);
    } finally {
      await b.kill();
      removeDir(dir);
    }
  });
}

// RabbitMQ: a durable auto-delete queue is recovered at restart; it is deleted when its
// last consumer goes away, but not before it ever had one.
test("durable auto-delete queue: recovered, deleted after its last consumer, stays deleted", { timeout: 60_000 }, async () => {
  const dir = tempDir("warren-restart-");
  let b = await startWarrenChild(dir);
  try {
    let c = await connect(b.url);
    const ch = await c.createConfirmChannel();
    await ch.assertQueue("adq", { durable: true, autoDelete: true });
    ch.publish("", "adq", makeBody(1, 1, 10), { persistent: true });
    await ch.waitForConfirms();
    await closeQuietly(c);
    b = await restart(b, "kill");
    c = await connect(b.url);
    assert.deepEqual(seqs(await readAll(c, "adq")), [1], "recovered with its message; a consumer came and went");
    // readAll's consumer was the first and last one: the queue is gone now
    assert.equal(await exists(c, "queue", "adq"), false, "deleted once its last consumer went away");
    await closeQuietly(c);
    b = await restart(b, "kill");
    c = await connect(b.url);
    assert.equal(await exists(c, "queue", "adq"), false, "an auto-deleted queue must stay deleted after a restart");
    await closeQuietly(c);
  } finally {
    await b.kill();
    removeDir(dir);
  }
});

// RabbitMQ: queue.delete and queue.purge are durable — deleted messages do not come back,
// including when a queue of the same name is declared again before the crash.
test("deleted, re-declared and purged durable queues do not resurrect messages after kill -9", { timeout: 60_000 }, async () => {
  const dir = tempDir("warren-restart-");
  let b = await startWarrenChild(dir);
  try {
    let c = await connect(b.url);
    const ch = await c.createConfirmChannel();
    await ch.assertQueue("again", { durable: true });
    await ch.assertQueue("purged", { durable: true });
    await ch.assertQueue("gone", { durable: true });
    for (let i = 1; i <= 5; i++) {
      ch.publish("", "again", makeBody(1, i, 10), { persistent: true });
      ch.publish("", "purged", makeBody(2, i, 10), { persistent: true });
      ch.publish("", "gone", makeBody(3, i, 10), { persistent: true });
    }
    await ch.waitForConfirms();
    await ch.deleteQueue("again");
    await ch.deleteQueue("gone");
    await ch.purgeQueue("purged");
    await ch.assertQueue("again", { durable: true });
    for (let i = 6; i <= 7; i++) ch.publish("", "again", makeBody(1, i, 10), { persistent: true });
    ch.publish("", "purged", makeBody(2, 6, 10), { persistent: true });
    await ch.waitForConfirms();
    b = await restart(b, "kill");
    await abandon(c);
    c = await connect(b.url);
    assert.deepEqual(seqs(await readAll(c, "again")), [6, 7], "only what was published after the re-declare");
    assert.deepEqual(seqs(await readAll(c, "purged")), [6], "purged messages stay purged");
    assert.equal(await exists(c, "queue", "gone"), false);
    // and once more, after the recovery's own repairs
    await closeQuietly(c);
    b = await restart(b, "kill");
    c = await connect(b.url);
    assert.deepEqual(seqs(await readAll(c, "again")), [6, 7]);
    assert.deepEqual(seqs(await readAll(c, "purged")), [6]);
    await closeQuietly(c);
  } finally {
    await b.kill();
    removeDir(dir);
  }
});

// RabbitMQ: vhosts, users and permissions are durable; the default user is created on first
// boot only (a later --default-user does not replace the existing users).
test("definitions survive kill -9: vhost, user, permissions, default user", { timeout: 60_000 }, async () => {
  const dir = tempDir("warren-restart-");
  let b = await startWarrenChild(dir, ["--mgmt-port", "0"]);
  try {
    assert.ok(b.mgmtUrl, "management API is up");
    const api = async (method: string, path: string, body?: unknown) => {
      const u = new URL(b.mgmtUrl! + path);
      const res = await fetch(`${u.protocol}//${u.host}${u.pathname}`, {
        method,
        headers: { authorization: "Basic " + Buffer.from("guest:guest").toString("base64"), "content-type": "application/json" },
        body: body === undefined ? null : JSON.stringify(body),
      });
      return res.status;
    };
    assert.ok([201, 204].includes(await api("PUT", "/api/vhosts/durable-vh")));
    assert.ok([201, 204].includes(await api("PUT", "/api/users/bob", { password: "bobpw", tags: "" })));
    assert.ok([201, 204].includes(await api("PUT", "/api/permissions/durable-vh/bob", { configure: "^bob\\.", write: ".*", read: ".*" })));
    let c = await connect(`amqp://bob:bobpw@127.0.0.1:${b.port}/durable-vh`);
    let ch = await c.createConfirmChannel();
    await ch.assertQueue("bob.q", { durable: true });
    ch.publish("", "bob.q", makeBody(1, 1, 10), { persistent: true });
    await ch.waitForConfirms();
    await closeQuietly(c);
    b = await restart(b, "kill", ["--default-user", "other", "--default-pass", "otherpw"]);
    c = await connect(`amqp://bob:bobpw@127.0.0.1:${b.port}/durable-vh`);
    assert.deepEqual(seqs(await readAll(c, "bob.q")), [1]);
    // bob's configure permission survived too: declaring outside ^bob\. is refused
    ch = await c.createConfirmChannel();
    ch.on("error", () => {});
    await assert.rejects(ch.assertQueue("not-bobs", { durable: true }), /ACCESS_REFUSED|403/);
    await closeQuietly(c);
    const guest = await connect(b.url);
    await closeQuietly(guest);
    await assert.rejects(connect(`amqp://other:otherpw@127.0.0.1:${b.port}`), /ACCESS_REFUSED|403|refused/i);
  } finally {
    await b.kill();
    removeDir(dir);
  }
});

function segmentFiles(dataDir: string, ext: string): string[] {
  const d = join(dataDir, "messages");
  return readdirSync(d)
    .filter((n) => n.endsWith(ext))
    .sort()
    .map((n) => join(d, n));
}

// warren's log repair (no RabbitMQ equivalent to compare): a torn record at the tail is
// dropped and reported; a damaged record in the middle is skipped, never delivered;
// a torn ack tail only brings acked messages back (at least once), never loses others.
test("torn segment tail, torn ack tail and a damaged record: detected, repaired, reported", { timeout: 60_000 }, async () => {
  const dir = tempDir("warren-torn-");
  let b = await startWarrenChild(dir);
  try {
    let c = await connect(b.url);
    const ch = await c.createConfirmChannel();
    await ch.assertQueue("torn", { durable: true });
    for (let i = 1; i <= 50; i++) ch.publish("", "torn", makeBody(1, i, 200), { persistent: true });
    await ch.waitForConfirms();
    await b.kill();
    await abandon(c);

    // 1. tear the last record: cut 5 bytes off the segment
    const [seg] = segmentFiles(dir, ".wseg");
    assert.ok(seg, "a segment file exists");
    const size = statSync(seg).size;
    truncateSync(seg, size - 5);
    // 2. damage record 20's body (one byte in the middle of the file region of record 20)
    const recLen = Math.floor((size - 8) / 50); // all records have the same size here
    flipByte(seg, 8 + 19 * recLen + recLen - 40);

    b = await startWarrenChild(dir);
    const log = b.stderr();
    // the whole partial record is dropped: what is left of it after the 5-byte cut
    assert.match(log, new RegExp(`dropped ${recLen - 5} byte\\(s\\) of torn/corrupt tail`), log);
    assert.match(log, /skipped 1 corrupt record/, log);
    assert.deepEqual(recoveryLine(log) && recoveryLine(log)!.messages, 48, log);
    c = await connect(b.url);
    const want = range(1, 49).filter((n) => n !== 20);
    assert.deepEqual(seqs(await readAll(c, "torn")), want, "everything but the torn and the damaged record, intact and in order");

    // 3. ack the first 10, let the acks reach the disk, then tear the ack file's tail
    const sub = await c.createChannel();
    await sub.prefetch(10);
    let n = 0;
    await new Promise<void>((resolve) => {
      void sub.consume("torn", (m) => {
        if (m === null || ++n > 10) return;
        sub.ack(m);
        if (n === 10) resolve();
      });
    });
    await sub.checkQueue("torn"); // round trip: the acks were processed
    await b.stop();
    await closeQuietly(c);
    const [acks] = segmentFiles(dir, ".wack");
    assert.ok(acks, "an ack file exists");
    truncateSync(acks, statSync(acks).size - 3);
    b = await startWarrenChild(dir);
    assert.match(b.stderr(), /dropped \d+ byte\(s\) of torn ack tail/, b.stderr());
    c = await connect(b.url);
    // the last ack record was torn: that one message is back, nothing else
    assert.deepEqual(seqs(await readAll(c, "torn")), want.slice(9));
    assert.equal((await drainAll(c, "torn")).length, 39);
    await closeQuietly(c);
  } finally {
    await b.kill();
    removeDir(dir);
  }
});

function flipByte(path: string, pos: number): void {
  const fd = openSync(path, "r+");
  try {
    const one = Buffer.alloc(1);
    readSync(fd, one, 0, 1, pos);
    one[0] = one[0]! ^ 0xff;
    writeSync(fd, one, 0, 1, pos);
  } finally {
    closeSync(fd);
  }
}

// The data directory carries a format version: a newer format is refused with a clear error.
test("a data directory of a newer format is refused, not misread", { timeout: 30_000 }, async () => {
  const dir = tempDir("warren-format-");
  try {
    writeFileSync(join(dir, "meta.json"), JSON.stringify({ format: 99 }) + "\n");
    const r = spawnSync(
      process.execPath,
      [join(repoRoot, "bin", "warren.js"), "server", "--port", "0", "--bind", "127.0.0.1", "--mgmt-port", "off", "--prometheus-port", "off", "--no-fleet", "--data-dir", dir],
      { encoding: "utf8", timeout: 20_000 },
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /newer warren \(data format 99\)/);
  } finally {
    removeDir(dir);
  }
});

// RabbitMQ: tx.commit-ok for persistent messages on a durable queue means they are on disk,
// like a publisher confirm; a rolled-back publish is never enqueued.
test("tx.commit-ok means on disk: committed messages survive an immediate kill -9, rolled back ones never appear", { timeout: 60_000 }, async () => {
  const dir = tempDir("warren-tx-");
  let b = await startWarrenChild(dir);
  try {
    const c = await connect(b.url);
    const ch = await c.createChannel();
    await ch.assertQueue("txq", { durable: true });
    // amqplib has no tx API: send tx.* through its channel RPC, with ids from its generated defs
    const defsModule = "amqplib/lib/defs.js"; // untyped module: import by a variable specifier
    const defs = (await import(defsModule)) as Record<string, number>;
    const call = (ch as unknown as { rpc(m: number, f: object, e: number): Promise<unknown> }).rpc.bind(ch);
    await call(defs["TxSelect"]!, {}, defs["TxSelectOk"]!);
    for (let i = 1; i <= 5; i++) ch.publish("", "txq", makeBody(1, i, 100), { persistent: true });
    await call(defs["TxRollback"]!, {}, defs["TxRollbackOk"]!);
    for (let i = 6; i <= 15; i++) ch.publish("", "txq", makeBody(1, i, 100), { persistent: true });
    await call(defs["TxCommit"]!, {}, defs["TxCommitOk"]!);
    b = await restart(b, "kill");
    await abandon(c);
    const c2 = await connect(b.url);
    assert.deepEqual(seqs(await readAll(c2, "txq")), range(6, 15));
    await closeQuietly(c2);
  } finally {
    await b.kill();
    removeDir(dir);
  }
});
