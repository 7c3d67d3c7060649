/**
 * Crash recovery of the segment log: torn tails, corruption, unknown versions.
 * RabbitMQ behaviour pinned down: after a crash, a restarted broker recovers every
 * message whose write completed and silently drops a partially written one
 * (never delivers half a message, never refuses to start over a torn tail).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { SegmentStore } from "../../../src/store/segment-store.js";
import { crc32, crc32Table } from "../../../src/store/crc32.js";
import { FILE_HEADER_SIZE, scanRecords } from "../../../src/store/record.js";
import { queueKey } from "../../../src/store/types.js";
import { logSink, makeMessage, patternBody, syncP, tempDir } from "./helpers.js";

const QA = queueKey("/", "a");

function segPaths(dir: string, ext = ".wseg"): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith(ext))
    .sort()
    .map((n) => join(dir, n));
}

function checkIntact(list: { routingKey: string; body: Buffer | null; bodySize: number }[]): void {
  for (const m of list) {
    const [, seed, len] = m.routingKey.split(".").map(Number) as [number, number, number];
    assert.equal(m.bodySize, len);
    assert.deepEqual(m.body, patternBody(seed, len));
  }
}

test("crc32: zlib's and the portable table implementation agree", () => {
  // guards the on-disk checksum: files must read back identically on every Node 20.x
  const data = patternBody(3, 10_000);
  assert.equal(crc32(Buffer.from("123456789")), 0xcbf43926);
  assert.equal(crc32Table(Buffer.from("123456789")), 0xcbf43926);
  assert.equal(crc32(data), crc32Table(data));
  assert.equal(crc32(data.subarray(100), crc32(data.subarray(0, 100))), crc32(data));
});

test("torn tail: the last record cut at every byte offset recovers exactly the complete records", async () => {
  // a crash mid-write leaves a partial record; the broker must start and deliver only whole messages
  const { dir, cleanup } = tempDir("torn");
  try {
    const s = SegmentStore.open({ dir, fsync: "always", log: logSink().log });
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      const m = makeMessage(i, 60);
      s.persist(m, [QA]);
      ids.push(m.storeId);
    }
    await syncP(s);
    const seg = segPaths(dir)[0]!;
    const lastStart = fs.statSync(seg).size;
    s.persist(makeMessage(5, 60), [QA]);
    await syncP(s);
    const lastEnd = fs.statSync(seg).size;
    await s.close();
    const pristine = fs.readFileSync(seg);

    for (let cut = lastStart; cut < lastEnd; cut++) {
      fs.writeFileSync(seg, pristine.subarray(0, cut));
      const sink = logSink();
      const r = SegmentStore.open({ dir, fsync: "none", log: sink.log });
      const list = r.recover().get(QA)!;
      assert.deepEqual(
        list.map((m) => m.storeId),
        ids,
        `cut at ${cut}`,
      );
      checkIntact(list);
      if (cut > lastStart)
        assert.ok(
          sink.lines.some((l) => /torn/.test(l)),
          "the drop is logged",
        );
      assert.equal(fs.statSync(seg).size, lastStart, "the torn tail is truncated away");
      await r.close();
      for (const extra of segPaths(dir).filter((p) => p !== seg)) fs.rmSync(extra);
    }
  } finally {
    cleanup();
  }
});

test("torn tail of zeros (file extended, data never written) is dropped", async () => {
  // after a power loss some file systems show the new length with zero-filled blocks
  const { dir, cleanup } = tempDir("zeros");
  try {
    const s = SegmentStore.open({ dir, fsync: "always", log: logSink().log });
    for (let i = 0; i < 3; i++) s.persist(makeMessage(i), [QA]);
    await syncP(s);
    await s.close();
    const seg = segPaths(dir)[0]!;
    fs.appendFileSync(seg, Buffer.alloc(4096));
    const r = SegmentStore.open({ dir, fsync: "always", log: logSink().log });
    assert.equal(r.recover().get(QA)!.length, 3);
    await r.close();
  } finally {
    cleanup();
  }
});

test("a corrupted record in the middle is skipped; records after it are still recovered", async () => {
  // bit rot in one message must not take the rest of the queue down with it
  const { dir, cleanup } = tempDir("crc");
  try {
    const s = SegmentStore.open({ dir, fsync: "always", log: logSink().log });
    const ids: number[] = [];
    for (let i = 0; i < 10; i++) {
      const m = makeMessage(i, 100);
      s.persist(m, [QA]);
      ids.push(m.storeId);
    }
    await syncP(s);
    await s.close();
    const seg = segPaths(dir)[0]!;
    const buf = fs.readFileSync(seg);
    // records are equal-sized here: flip one body byte of the 5th record
    const recSize = (buf.length - 8) / 10;
    buf[8 + 4 * recSize + recSize - 10]! ^= 0xff;
    fs.writeFileSync(seg, buf);
    const sink = logSink();
    const r = SegmentStore.open({ dir, fsync: "always", log: sink.log });
    const list = r.recover().get(QA)!;
    assert.deepEqual(
      list.map((m) => m.storeId),
      [...ids.slice(0, 4), ...ids.slice(5)],
    );
    checkIntact(list);
    assert.ok(sink.lines.some((l) => /skipped 1 corrupt/.test(l)));
    await r.close();
  } finally {
    cleanup();
  }
});

test("a corrupted length field ends the segment there, earlier segments are untouched", async () => {
  // damage we cannot resynchronise after must lose as little as possible and never crash start-up
  const { dir, cleanup } = tempDir("len");
  try {
    const s = SegmentStore.open({ dir, fsync: "always", segmentSize: 1024, log: logSink().log });
    const ids: number[] = [];
    for (let i = 0; i < 40; i++) {
      const m = makeMessage(i, 50);
      s.persist(m, [QA]);
      ids.push(m.storeId);
    }
    await syncP(s);
    await s.close();
    const segs = segPaths(dir);
    assert.ok(segs.length >= 3);
    const victim = segs[1]!;
    const buf = fs.readFileSync(victim);
    const inVictim = new Set<number>();
    scanRecords(buf, FILE_HEADER_SIZE, (_t, ps) => inVictim.add(buf.readUIntLE(ps + 1, 6)));
    assert.ok(inVictim.size > 1);
    buf.writeUInt32LE(0x7fffffff, 8); // first record's length
    fs.writeFileSync(victim, buf);
    const sink = logSink();
    const r = SegmentStore.open({ dir, fsync: "always", segmentSize: 1024, log: sink.log });
    const list = r.recover().get(QA)!;
    checkIntact(list);
    assert.deepEqual(
      list.map((m) => m.storeId),
      ids.filter((id) => !inVictim.has(id)),
    );
    assert.ok(sink.lines.some((l) => l.includes(victim) && /dropped/.test(l)));
    await r.close();
  } finally {
    cleanup();
  }
});

test("a torn ack-file tail loses only that ack (the message comes back, as unacked)", async () => {
  // an ack that was not durable when the broker crashed leads to a redelivery, never to a loss
  const { dir, cleanup } = tempDir("acktail");
  try {
    const s = SegmentStore.open({ dir, fsync: "always", log: logSink().log });
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) {
      const m = makeMessage(i);
      s.persist(m, [QA]);
      ids.push(m.storeId);
    }
    await syncP(s);
    s.remove(QA, ids[0]!);
    s.remove(QA, ids[1]!);
    await syncP(s);
    await s.close();
    const ack = segPaths(dir, ".wack")[0]!;
    fs.truncateSync(ack, fs.statSync(ack).size - 3);
    const r = SegmentStore.open({ dir, fsync: "always", log: logSink().log });
    assert.deepEqual(
      r
        .recover()
        .get(QA)!
        .map((m) => m.storeId),
      ids.slice(1),
    );
    await r.close();
  } finally {
    cleanup();
  }
});

test("a segment written by an unknown future format version is refused with a clear error", async () => {
  // better to refuse to start than to misread messages
  const { dir, cleanup } = tempDir("ver");
  try {
    const s = SegmentStore.open({ dir, fsync: "always", log: logSink().log });
    s.persist(makeMessage(1), [QA]);
    await syncP(s);
    await s.close();
    const seg = segPaths(dir)[0]!;
    const buf = fs.readFileSync(seg);
    buf.writeUInt32LE(2, 4);
    fs.writeFileSync(seg, buf);
    assert.throws(() => SegmentStore.open({ dir, fsync: "always", log: logSink().log }), /format version 2.*refusing/);
  } finally {
    cleanup();
  }
});
