/**
 * The definitions log (durable exchanges, queues, bindings, users, ...).
 * RabbitMQ behaviour pinned down: durable definitions survive a restart in the
 * order they were made; a crash mid-write loses at most the definition being
 * written, never the broker's ability to start; a data directory from a newer,
 * incompatible version is refused instead of being misread.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { DefinitionsLog, DEFINITIONS_FILE } from "../../../src/store/definitions-log.js";
import { DataFormatError, META_FILE } from "../../../src/store/format-version.js";
import { logSink, syncP, tempDir } from "./helpers.js";

const cmd = (i: number) => ({ op: "queue.declare", vhost: "/", name: `q${i}`, durable: true, arguments: { "x-max-length": i, "x-note": "ünïcödé ✓" } });

test("append -> close -> reopen replays the commands in order; meta.json records the format", async () => {
  const { dir, cleanup } = tempDir("defs");
  try {
    const d = DefinitionsLog.open({ dataDir: dir, log: logSink().log });
    for (let i = 0; i < 50; i++) d.append(cmd(i));
    await syncP(d);
    await d.close();
    assert.deepEqual(JSON.parse(fs.readFileSync(join(dir, META_FILE), "utf8")), { format: 1 });
    const r = DefinitionsLog.open({ dataDir: dir, log: logSink().log });
    assert.deepEqual(
      r.load(),
      Array.from({ length: 50 }, (_, i) => cmd(i)),
    );
    await r.close();
  } finally {
    cleanup();
  }
});

test("group commit: appends + syncs of one turn share one fdatasync", async () => {
  const { dir, cleanup } = tempDir("defs-gc");
  try {
    const d = DefinitionsLog.open({ dataDir: dir, log: logSink().log });
    const done: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      d.append(cmd(i));
      done.push(syncP(d));
    }
    await Promise.all(done);
    assert.equal(d.fsyncs, 1);
    await d.close();
  } finally {
    cleanup();
  }
});

test("torn tail: the last line cut at every byte offset loses only that line, and the file is repaired", async () => {
  const { dir, cleanup } = tempDir("defs-torn");
  try {
    const d = DefinitionsLog.open({ dataDir: dir, log: logSink().log });
    for (let i = 0; i < 3; i++) d.append(cmd(i));
    await syncP(d);
    const path = join(dir, DEFINITIONS_FILE);
    const before = fs.statSync(path).size;
    d.append(cmd(3));
    await syncP(d);
    await d.close();
    const full = fs.readFileSync(path);
    for (let cut = before; cut < full.length; cut++) {
      fs.writeFileSync(path, full.subarray(0, cut));
      const r = DefinitionsLog.open({ dataDir: dir, log: logSink().log });
      assert.deepEqual(r.load(), [cmd(0), cmd(1), cmd(2)], `cut at ${cut}`);
      assert.equal(fs.statSync(path).size, before);
      r.append(cmd(9)); // appending after the repair yields a clean log
      await syncP(r);
      await r.close();
      const again = DefinitionsLog.open({ dataDir: dir, log: logSink().log });
      assert.deepEqual(again.load(), [cmd(0), cmd(1), cmd(2), cmd(9)]);
      await again.close();
    }
  } finally {
    cleanup();
  }
});

test("a corrupt line in the middle is skipped (logged) and later lines still load", async () => {
  const { dir, cleanup } = tempDir("defs-mid");
  try {
    const d = DefinitionsLog.open({ dataDir: dir, log: logSink().log });
    for (let i = 0; i < 5; i++) d.append(cmd(i));
    await d.close();
    const path = join(dir, DEFINITIONS_FILE);
    const text = fs.readFileSync(path, "utf8").split("\n");
    text[2] = text[2]!.replace("q2", "qX"); // same length, CRC no longer matches
    fs.writeFileSync(path, text.join("\n"));
    const sink = logSink();
    const r = DefinitionsLog.open({ dataDir: dir, log: sink.log });
    assert.deepEqual(r.load(), [cmd(0), cmd(1), cmd(3), cmd(4)]);
    assert.ok(sink.lines.some((l) => /skipped 1 corrupt/.test(l)));
    await r.close();
  } finally {
    cleanup();
  }
});

test("compact replaces the log atomically; appends after it go to the new file", async () => {
  const { dir, cleanup } = tempDir("defs-compact");
  try {
    const d = DefinitionsLog.open({ dataDir: dir, log: logSink().log });
    for (let i = 0; i < 100; i++) d.append(cmd(i % 3));
    await syncP(d);
    const path = join(dir, DEFINITIONS_FILE);
    const big = fs.statSync(path).size;
    d.compact([cmd(0), cmd(1), cmd(2)]);
    assert.ok(fs.statSync(path).size < big / 10);
    d.append(cmd(7));
    await syncP(d);
    assert.equal(d.count, 4);
    await d.close();
    assert.ok(!fs.existsSync(path + ".tmp"));
    const r = DefinitionsLog.open({ dataDir: dir, log: logSink().log });
    assert.deepEqual(r.load(), [cmd(0), cmd(1), cmd(2), cmd(7)]);
    await r.close();
  } finally {
    cleanup();
  }
});

test("a leftover definitions.log.tmp (crash during compaction) is ignored: the old log stands", async () => {
  const { dir, cleanup } = tempDir("defs-tmp");
  try {
    const d = DefinitionsLog.open({ dataDir: dir, log: logSink().log });
    d.append(cmd(1));
    await d.close();
    fs.writeFileSync(join(dir, DEFINITIONS_FILE + ".tmp"), "half a compaction");
    const r = DefinitionsLog.open({ dataDir: dir, log: logSink().log });
    assert.deepEqual(r.load(), [cmd(1)]);
    await r.close();
  } finally {
    cleanup();
  }
});

test("a data directory of a newer format is refused with a clear error", () => {
  const { dir, cleanup } = tempDir("defs-ver");
  try {
    fs.writeFileSync(join(dir, META_FILE), JSON.stringify({ format: 2 }));
    assert.throws(
      () => DefinitionsLog.open({ dataDir: dir, log: logSink().log }),
      (e: unknown) => e instanceof DataFormatError && /newer warren \(data format 2\).*reads format 1/.test(e.message),
    );
    fs.writeFileSync(join(dir, META_FILE), "{not json");
    assert.throws(() => DefinitionsLog.open({ dataDir: dir, log: logSink().log }), DataFormatError);
  } finally {
    cleanup();
  }
});
