/**
 * SegmentStore round trips: what the broker relies on when it restarts.
 * RabbitMQ behaviour pinned down: persistent messages in durable queues survive a
 * broker restart in queue order; acked messages do not come back; a message routed
 * to several durable queues is stored once (classic queue v2 shared message store);
 * a deleted queue's messages are gone; disk space is reclaimed once messages are acked.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { SegmentStore } from "../../../src/store/segment-store.js";
import { messageRecordSize, strBytes } from "../../../src/store/record.js";
import { queueKey } from "../../../src/store/types.js";
import { logSink, makeMessage, patternBody, syncP, tempDir } from "./helpers.js";

const QA = queueKey("/", "a");
const QB = queueKey("/", "b");
const QC = queueKey("vh", "c");

function open(dir: string, extra: Partial<Parameters<typeof SegmentStore.open>[0]> = {}): SegmentStore {
  return SegmentStore.open({ dir, fsync: "always", log: logSink().log, ...extra });
}

function segFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith(".wseg"))
    .sort();
}

test("persist -> close -> reopen recovers every message per queue, in order, intact", async () => {
  // a restarted RabbitMQ delivers a durable queue's persistent backlog in publish order
  const { dir, cleanup } = tempDir("roundtrip");
  try {
    const s = open(dir);
    const want = new Map<string, number[]>([
      [QA, []],
      [QB, []],
    ]);
    for (let i = 0; i < 300; i++) {
      const m = makeMessage(i, i % 50);
      const keys = i % 3 === 0 ? [QA, QB] : i % 3 === 1 ? [QA] : [QB];
      s.persist(m, keys);
      assert.ok(m.storeId > 0);
      for (const k of keys) want.get(k)!.push(m.storeId);
    }
    await syncP(s);
    await s.close();

    const r = open(dir);
    const got = r.recover();
    assert.deepEqual([...got.keys()].sort(), [QA, QB].sort());
    for (const [k, ids] of want) {
      const list = got.get(k)!;
      assert.deepEqual(
        list.map((m) => m.storeId),
        ids,
      );
      for (const m of list) {
        const [, seed, len] = m.routingKey.split(".").map(Number) as [number, number, number];
        assert.equal(m.exchange, "amq.direct");
        assert.deepEqual(m.propertiesRaw, Buffer.from([0x10, 0x00, 0x02]));
        assert.equal(m.bodySize, len);
        assert.deepEqual(m.body, patternBody(seed, len));
      }
    }
    assert.equal(r.stats().messages, 300);
    assert.deepEqual(r.recover(), new Map(), "recover() hands the backlog over once");
    await r.close();
  } finally {
    cleanup();
  }
});

test("a message routed to three queues is written once: the file grows by one record", async () => {
  // RabbitMQ's shared message store keeps one copy of a fanned-out persistent message
  const { dir, cleanup } = tempDir("shared");
  try {
    const s = open(dir);
    const warm = makeMessage(0, 10);
    s.persist(warm, [QA]);
    await syncP(s);
    const seg = join(dir, segFiles(dir)[0]!);
    const before = fs.statSync(seg).size;
    const m = makeMessage(1, 1000);
    s.persist(m, [QA, QB, QC]);
    await syncP(s);
    const grew = fs.statSync(seg).size - before;
    const one = messageRecordSize(strBytes(m.exchange), strBytes(m.routingKey), 3, [QA, QB, QC].map(strBytes), 1000);
    assert.equal(grew, one, "exactly one record, with three queue keys");
    assert.ok(grew < 1100, "the 1000-byte body is not repeated per queue");
    await s.close();
    const r = open(dir);
    const got = r.recover();
    for (const k of [QA, QB, QC]) assert.ok(got.get(k)!.some((x) => x.storeId === m.storeId));
    // the same object serves all three queues
    assert.equal(got.get(QB)![0], got.get(QC)![0]);
    await r.close();
  } finally {
    cleanup();
  }
});

test("removals (acks) survive a restart, per queue, and a shared message stays for the other queue", async () => {
  // an acked message is not redelivered after a restart; the same message still waits in the queue that did not ack it
  const { dir, cleanup } = tempDir("acks");
  try {
    const s = open(dir, { segmentSize: 4096 });
    const ids: number[] = [];
    for (let i = 0; i < 100; i++) {
      const m = makeMessage(i, 30);
      s.persist(m, [QA, QB]);
      ids.push(m.storeId);
    }
    await syncP(s);
    for (let i = 0; i < 100; i += 2) s.remove(QA, ids[i]!);
    for (let i = 0; i < 10; i++) s.remove(QB, ids[i]!);
    s.remove(QB, ids[0]!); // a second ack of the same message is a no-op
    s.remove(QC, ids[1]!); // QC never held it: no-op, and it must not release QA's/QB's copy
    await syncP(s);
    await s.close();

    const r = open(dir, { segmentSize: 4096 });
    const got = r.recover();
    assert.deepEqual(
      got.get(QA)!.map((m) => m.storeId),
      ids.filter((_, i) => i % 2 === 1),
    );
    assert.deepEqual(
      got.get(QB)!.map((m) => m.storeId),
      ids.slice(10),
    );
    await r.close();
  } finally {
    cleanup();
  }
});

test("delivered marks survive a restart per queue; a message acked after its mark is simply gone", async () => {
  const { dir, cleanup } = tempDir("delivered");
  try {
    const s = open(dir, { segmentSize: 4096 });
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) {
      const m = makeMessage(i, 30);
      s.persist(m, [QA, QB]);
      ids.push(m.storeId);
    }
    await syncP(s);
    s.markDelivered(QA, ids[0]!);
    s.markDelivered(QA, ids[1]!);
    s.remove(QA, ids[1]!); // delivered, then acked
    s.markDelivered(QB, ids[2]!);
    s.markDelivered(QC, ids[3]!); // QC never held it: ignored
    await syncP(s);
    await s.close();

    const r = open(dir, { segmentSize: 4096 });
    const got = r.recover();
    const view = (k: string) => got.get(k)!.map((m) => [m.storeId, (m.deliveredIn ?? []).includes(k)]);
    assert.deepEqual(view(QA), [
      [ids[0], true],
      [ids[2], false],
      [ids[3], false],
      [ids[4], false],
      [ids[5], false],
    ]);
    assert.deepEqual(view(QB), [
      [ids[0], false],
      [ids[1], false],
      [ids[2], true],
      [ids[3], false],
      [ids[4], false],
      [ids[5], false],
    ]);
    await r.close();
  } finally {
    cleanup();
  }
});

test("segments whose messages are all removed are deleted from disk", async () => {
  // RabbitMQ reclaims message store files once their messages are acked
  const { dir, cleanup } = tempDir("gc");
  try {
    const s = open(dir, { segmentSize: 2048 });
    const ids: number[] = [];
    for (let i = 0; i < 200; i++) {
      const m = makeMessage(i, 40);
      s.persist(m, [QA]);
      ids.push(m.storeId);
    }
    await syncP(s);
    const many = segFiles(dir).length;
    assert.ok(many >= 5, `expected several segments, got ${many}`);
    for (const id of ids.slice(0, 150)) s.remove(QA, id);
    await syncP(s);
    const fewer = segFiles(dir).length;
    assert.ok(fewer < many, `segments ${many} -> ${fewer}`);
    for (const id of ids.slice(150)) s.remove(QA, id);
    await syncP(s);
    // only the segment being written remains (closed ones are gone, with their ack files)
    assert.equal(segFiles(dir).length, 1);
    assert.equal(fs.readdirSync(dir).filter((n) => n.endsWith(".wack")).length <= 1, true);
    assert.equal(s.stats().messages, 0);
    await s.close();
    // at reopen the empty last segment goes too
    const r = open(dir, { segmentSize: 2048 });
    assert.equal(r.recover().size, 0);
    assert.equal(segFiles(dir).length, 0);
    await r.close();
  } finally {
    cleanup();
  }
});

test("deleteQueue forgets the queue's messages across restarts; a re-declared queue keeps only new ones", async () => {
  // queue.delete discards its messages for good; a new queue with the same name starts empty
  const { dir, cleanup } = tempDir("delq");
  try {
    const s = open(dir, { segmentSize: 4096 });
    const shared: number[] = [];
    for (let i = 0; i < 60; i++) {
      const m = makeMessage(i);
      s.persist(m, [QA, QB]);
      shared.push(m.storeId);
    }
    await syncP(s);
    s.deleteQueue(QA);
    const fresh = makeMessage(999);
    s.persist(fresh, [QA]);
    await syncP(s);
    await s.close();

    const r = open(dir, { segmentSize: 4096 });
    const got = r.recover();
    assert.deepEqual(
      got.get(QA)!.map((m) => m.storeId),
      [fresh.storeId],
    );
    assert.deepEqual(
      got.get(QB)!.map((m) => m.storeId),
      shared,
    );
    r.deleteQueue(QB);
    r.deleteQueue(QA);
    await syncP(r);
    await r.close();
    const r2 = open(dir, { segmentSize: 4096 });
    assert.equal(r2.recover().size, 0);
    assert.equal(segFiles(dir).length, 0, "every segment emptied by the deletes is gone");
    await r2.close();
  } finally {
    cleanup();
  }
});

test("large backlog: bodies beyond the eager budget stay on disk and readBody serves them", async () => {
  // a restarted broker with a backlog bigger than memory still delivers every body
  const { dir, cleanup } = tempDir("lazy");
  try {
    const s = open(dir, { segmentSize: 8192 });
    for (let i = 0; i < 100; i++) s.persist(makeMessage(i, 100), [QA]);
    await syncP(s);
    await s.close();
    const r = open(dir, { segmentSize: 8192, eagerBodyBytes: 1000 });
    const list = r.recover().get(QA)!;
    assert.equal(list.length, 100);
    assert.equal(list.filter((m) => m.body !== null).length, 10);
    for (const m of list) {
      const seed = Number(m.routingKey.split(".")[1]);
      assert.deepEqual(m.body ?? r.readBody(m.storeId), patternBody(seed, 100));
    }
    assert.throws(() => r.readBody(123456), /not in the store/);
    await r.close();
  } finally {
    cleanup();
  }
});

test("readBody works for a message whose record is still buffered (same turn as persist)", async () => {
  // the broker may drop a persisted body at once and read it back on delivery
  const { dir, cleanup } = tempDir("pending");
  try {
    const s = open(dir);
    const m = makeMessage(7, 500);
    s.persist(m, [QA]);
    assert.deepEqual(s.readBody(m.storeId), patternBody(7, 500));
    await syncP(s);
    assert.deepEqual(s.readBody(m.storeId), patternBody(7, 500));
    await s.close();
  } finally {
    cleanup();
  }
});

test("pageOut/releasePaged: transient bodies go to scratch files that never survive a restart", async () => {
  // transient messages paged to disk under memory pressure are not recovered (RabbitMQ drops transient messages on restart)
  const { dir, cleanup } = tempDir("page");
  try {
    const s = open(dir, { segmentSize: 4096 });
    const msgs = Array.from({ length: 50 }, (_, i) => makeMessage(i, 300));
    for (const m of msgs) s.pageOut(m);
    for (const m of msgs) assert.equal(m.body, null);
    assert.equal(s.stats().pagedMessages, 50);
    for (const [i, m] of msgs.entries()) assert.deepEqual(s.readBody(m.storeId), patternBody(i, 300));
    await syncP(s);
    const scratch = join(dir, "scratch");
    assert.ok(fs.readdirSync(scratch).length > 1, "rolled over to several scratch files");
    for (const m of msgs.slice(0, 40)) s.releasePaged(m.storeId);
    assert.ok(fs.readdirSync(scratch).length <= 2, "fully released scratch files are deleted");
    assert.deepEqual(s.readBody(msgs[45]!.storeId), patternBody(45, 300));
    // a paged transient message can still be persisted later (e.g. dead-lettered into a durable queue)
    const m49 = msgs[49]!;
    s.persist(m49, [QA]);
    assert.ok(m49.storeId > 0 && m49.storeId < 2 ** 48);
    await syncP(s);
    await s.close();
    const r = open(dir, { segmentSize: 4096 });
    assert.deepEqual(
      r
        .recover()
        .get(QA)!
        .map((m) => m.storeId),
      [m49.storeId],
    );
    assert.deepEqual(fs.readdirSync(scratch), [], "scratch is emptied at open");
    await r.close();
  } finally {
    cleanup();
  }
});

test("store ids keep growing across restarts, so queue order stays publish order", async () => {
  // messages published after a restart queue up behind the recovered ones
  const { dir, cleanup } = tempDir("ids");
  try {
    let last = 0;
    for (let round = 0; round < 3; round++) {
      const s = open(dir);
      const got = s.recover().get(QA) ?? [];
      assert.equal(got.length, round * 5);
      for (let i = 0; i < 5; i++) {
        const m = makeMessage(round * 5 + i);
        s.persist(m, [QA]);
        assert.ok(m.storeId > last);
        last = m.storeId;
      }
      await syncP(s);
      await s.close();
    }
  } finally {
    cleanup();
  }
});

test("deleteQueue during definitions replay (before recover()) does not touch a re-declared queue's messages", async () => {
  // boot replays queue.declare / queue.delete / queue.declare of the same durable queue:
  // the messages published to the second incarnation must survive the restart
  const { dir, cleanup } = tempDir("replay");
  try {
    const s = open(dir);
    s.recover();
    s.persist(makeMessage(1), [QA]);
    s.deleteQueue(QA);
    const kept = makeMessage(2);
    s.persist(kept, [QA]);
    await syncP(s);
    await s.close();
    for (let i = 0; i < 2; i++) {
      const r = open(dir);
      r.deleteQueue(QA); // replayed "queue.delete" from the definitions log
      assert.deepEqual(
        r
          .recover()
          .get(QA)!
          .map((m) => m.storeId),
        [kept.storeId],
      );
      await r.close();
    }
  } finally {
    cleanup();
  }
});
