/**
 * Group commit and I/O failure handling of the SegmentStore.
 * RabbitMQ behaviour pinned down: publisher confirms for persistent messages are
 * sent only after the message is fsynced, and many confirms share one fsync
 * (RabbitMQ batches them per queue/message-store flush); a full or failing disk
 * makes confirms fail (nack), it does not crash the broker or damage what was
 * already stored.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { SegmentStore } from "../../../src/store/segment-store.js";
import { waitFor } from "../../helpers/wait.js";
import type { StoreIo } from "../../../src/store/io.js";
import { queueKey } from "../../../src/store/types.js";
import { logSink, makeMessage, patternBody, syncP, tempDir } from "./helpers.js";

const QA = queueKey("/", "a");

function ioError(code: string): Error {
  return Object.assign(new Error(`${code}: injected`), { code });
}

test("always: N sync() calls in one event-loop turn are served by one write and one fdatasync", async () => {
  const { dir, cleanup } = tempDir("gc1");
  try {
    const s = SegmentStore.open({ dir, fsync: "always", log: logSink().log });
    const first = makeMessage(0);
    s.persist(first, [QA]);
    await syncP(s);
    const before = s.stats();
    const done: Promise<void>[] = [];
    s.remove(QA, first.storeId); // an ack in the same turn goes to the ack file, fsynced lazily
    for (let i = 0; i < 100; i++) {
      s.persist(makeMessage(i, 1024), [QA]);
      done.push(syncP(s));
    }
    await Promise.all(done);
    const after = s.stats();
    assert.equal(after.fsyncs - before.fsyncs, 1);
    assert.equal(after.writes - before.writes, 2, "one write to the segment, one to the ack file");
    assert.equal(after.syncBatches - before.syncBatches, 1);
    await s.close();
  } finally {
    cleanup();
  }
});

test("always: requests arriving while an fdatasync is in flight share the next one; no confirm precedes its fsync", async () => {
  const { dir, cleanup } = tempDir("gc2");
  try {
    const events: string[] = [];
    let syncNo = 0;
    const io: Partial<StoreIo> = {
      fdatasync: (fd, cb) => {
        const n = ++syncNo;
        events.push(`fsync${n}-start`);
        // a slow disk: the fsync takes 30 ms while the event loop keeps accepting publishes
        fs.fdatasync(fd, (err) =>
          setTimeout(() => {
            events.push(`fsync${n}-done`);
            cb(err ?? null);
          }, 30),
        );
      },
    };
    const s = SegmentStore.open({ dir, fsync: "always", io, log: logSink().log });
    const done: Promise<void>[] = [];
    const publish = (i: number) => {
      s.persist(makeMessage(i), [QA]);
      done.push(syncP(s).then(() => void events.push(`confirm${i}`)));
    };
    publish(0);
    // five more turns while fsync 1 is in flight
    for (let t = 1; t <= 5; t++) {
      await new Promise((r) => setTimeout(r, 2));
      publish(t);
    }
    await Promise.all(done);
    assert.equal(syncNo, 2, events.join(" "));
    assert.ok(events.indexOf("confirm0") > events.indexOf("fsync1-done"));
    for (let t = 1; t <= 5; t++) assert.ok(events.indexOf(`confirm${t}`) > events.indexOf("fsync2-done"), events.join(" "));
    await s.close();
  } finally {
    cleanup();
  }
});

test("interval: confirms after the write (no fsync on the path), fsync on the timer", async () => {
  const { dir, cleanup } = tempDir("gc3");
  try {
    const s = SegmentStore.open({ dir, fsync: "interval", fsyncIntervalMs: 25, log: logSink().log });
    s.persist(makeMessage(1), [QA]);
    await syncP(s);
    assert.equal(s.stats().fsyncs, 0);
    assert.equal(s.stats().writes, 1, "the data reached the OS before the confirm");
    await waitFor("the interval fsync", () => s.stats().fsyncs >= 1, 2000, 5);
    await s.close();
  } finally {
    cleanup();
  }
});

test("none: confirms after the write, never fsyncs until close", async () => {
  const { dir, cleanup } = tempDir("gc4");
  try {
    const s = SegmentStore.open({ dir, fsync: "none", log: logSink().log });
    for (let i = 0; i < 10; i++) s.persist(makeMessage(i), [QA]);
    await syncP(s);
    assert.equal(s.stats().fsyncs, 0);
    assert.equal(s.stats().writes, 1);
    await s.close();
  } finally {
    cleanup();
  }
});

test("ENOSPC on write: sync(cb) gets the error, no crash, earlier data intact, retry succeeds once space is back", async () => {
  const { dir, cleanup } = tempDir("enospc");
  try {
    let full = false;
    const io: Partial<StoreIo> = {
      writev: (fd, bufs, pos) => {
        if (full) throw ioError("ENOSPC");
        return fs.writevSync(fd, bufs, pos);
      },
    };
    const sink = logSink();
    const s = SegmentStore.open({ dir, fsync: "always", io, log: sink.log });
    const a = makeMessage(1, 200);
    s.persist(a, [QA]);
    await syncP(s);

    full = true;
    const b = makeMessage(2, 200);
    s.persist(b, [QA]);
    await assert.rejects(syncP(s), (e: NodeJS.ErrnoException) => e.code === "ENOSPC");
    s.remove(QA, a.storeId); // acks while the disk is full do not throw either
    await assert.rejects(syncP(s), (e: NodeJS.ErrnoException) => e.code === "ENOSPC");
    assert.ok(sink.lines.some((l) => /write failed \(ENOSPC\)/.test(l)));
    assert.deepEqual(s.readBody(b.storeId), patternBody(2, 200), "the buffered body is still readable");

    full = false;
    const c = makeMessage(3, 200);
    s.persist(c, [QA]);
    await syncP(s); // retries b and the ack, then c
    await s.close();

    const r = SegmentStore.open({ dir, fsync: "always", log: logSink().log });
    const list = r.recover().get(QA)!;
    assert.deepEqual(
      list.map((m) => m.storeId),
      [b.storeId, c.storeId],
    );
    assert.deepEqual(list[0]!.body, patternBody(2, 200));
    await r.close();
  } finally {
    cleanup();
  }
});

test("callbacks are answered in request order: a write failure waits for the fdatasync in flight of earlier requests", async () => {
  // A channel answers a failed sync with basic.nack multiple=true: answered before the earlier
  // batch's fdatasync came back, it would cover publishes that are then stored after all.
  const { dir, cleanup } = tempDir("order");
  try {
    let full = false;
    let releaseSync: (() => void) | null = null;
    const io: Partial<StoreIo> = {
      writev: (fd, bufs, pos) => {
        if (full) throw ioError("ENOSPC");
        return fs.writevSync(fd, bufs, pos);
      },
      // a slow disk: the first batch's fdatasync is answered only when the test says so
      fdatasync: (fd, cb) => fs.fdatasync(fd, (err) => (releaseSync = () => cb(err ?? null))),
    };
    const s = SegmentStore.open({ dir, fsync: "always", io, log: logSink().log });
    const answers: string[] = [];
    s.persist(makeMessage(1, 200), [QA]);
    s.sync((err) => answers.push(`m1:${err ? "err" : "ok"}`));
    await waitFor("the first fdatasync started", () => releaseSync !== null, 2000);
    full = true;
    s.persist(makeMessage(2, 200), [QA]);
    s.sync((err) => answers.push(`m2:${err ? "err" : "ok"}`));
    await new Promise((r) => setTimeout(r, 20)); // m2's write has failed by now
    assert.deepEqual(answers, [], "m2's failure must not be answered before m1's fdatasync");
    releaseSync!();
    await waitFor("both answered", () => answers.length === 2, 2000);
    assert.deepEqual(answers, ["m1:ok", "m2:err"]);
    full = false;
    await s.close();
  } finally {
    cleanup();
  }
});

test("a disk that stays full: close() reports the error and what was stored before stays intact", async () => {
  const { dir, cleanup } = tempDir("full");
  try {
    let full = false;
    const io: Partial<StoreIo> = {
      writev: (fd, bufs, pos) => {
        if (full) throw ioError("ENOSPC");
        return fs.writevSync(fd, bufs, pos);
      },
    };
    const s = SegmentStore.open({ dir, fsync: "always", io, log: logSink().log });
    const kept: number[] = [];
    for (let i = 0; i < 20; i++) {
      const m = makeMessage(i, 100);
      s.persist(m, [QA]);
      kept.push(m.storeId);
    }
    await syncP(s);
    full = true;
    for (let i = 20; i < 40; i++) s.persist(makeMessage(i, 100), [QA]);
    await assert.rejects(syncP(s));
    await assert.rejects(s.close(), (e: NodeJS.ErrnoException) => e.code === "ENOSPC");
    const r = SegmentStore.open({ dir, fsync: "always", log: logSink().log });
    const list = r.recover().get(QA)!;
    assert.deepEqual(
      list.map((m) => m.storeId),
      kept,
    );
    for (const m of list) assert.deepEqual(m.body, patternBody(Number(m.routingKey.split(".")[1]), 100));
    await r.close();
  } finally {
    cleanup();
  }
});

test("a write that fails half-way is rewritten from the same offset on retry (no gap, no duplicate)", async () => {
  const { dir, cleanup } = tempDir("partial");
  try {
    let mode: "ok" | "half" | "fail" = "ok";
    const io: Partial<StoreIo> = {
      writev: (fd, bufs, pos) => {
        if (mode === "fail") throw ioError("EIO");
        if (mode === "half") {
          // the kernel accepted only part of the batch, then the device failed
          mode = "fail";
          const all = Buffer.concat(bufs);
          return fs.writeSync(fd, all, 0, all.length >> 1, pos);
        }
        return fs.writevSync(fd, bufs, pos);
      },
    };
    const s = SegmentStore.open({ dir, fsync: "always", io, log: logSink().log });
    s.persist(makeMessage(0, 500), [QA]);
    await syncP(s);
    mode = "half";
    const ids: number[] = [];
    for (let i = 1; i <= 10; i++) {
      const m = makeMessage(i, 500);
      s.persist(m, [QA]);
      ids.push(m.storeId);
    }
    await assert.rejects(syncP(s), (e: NodeJS.ErrnoException) => e.code === "EIO");
    mode = "ok";
    await syncP(s);
    await s.close();
    const r = SegmentStore.open({ dir, fsync: "always", log: logSink().log });
    const list = r.recover().get(QA)!;
    assert.equal(list.length, 11);
    for (const m of list) assert.deepEqual(m.body, patternBody(Number(m.routingKey.split(".")[1]), 500));
    await r.close();
  } finally {
    cleanup();
  }
});

test("fdatasync EIO is sticky: that batch and every later sync fail (no false confirm), no crash", async () => {
  // after a failed fsync the kernel may have dropped the dirty pages; confirming later would lie
  const { dir, cleanup } = tempDir("eio");
  try {
    let broken = false;
    const io: Partial<StoreIo> = {
      fdatasync: (fd, cb) => (broken ? setImmediate(() => cb(ioError("EIO"))) : fs.fdatasync(fd, (e) => cb(e ?? null))),
    };
    const s = SegmentStore.open({ dir, fsync: "always", io, log: logSink().log });
    s.persist(makeMessage(1), [QA]);
    await syncP(s);
    broken = true;
    s.persist(makeMessage(2), [QA]);
    await assert.rejects(syncP(s), (e: NodeJS.ErrnoException) => e.code === "EIO");
    broken = false;
    s.persist(makeMessage(3), [QA]);
    await assert.rejects(syncP(s), (e: NodeJS.ErrnoException) => e.code === "EIO");
    await assert.rejects(s.close());
  } finally {
    cleanup();
  }
});
