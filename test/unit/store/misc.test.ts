/**
 * MemoryStore (no data directory) and the disk-space probe.
 * RabbitMQ behaviour pinned down: without persistence nothing survives a restart
 * but confirms still arrive (asynchronously); the disk alarm reads the free space
 * of the data directory's file system.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { MemoryStore } from "../../../src/store/memory-store.js";
import { diskSpace, freeDiskBytes, freeDiskBytesAsync } from "../../../src/store/disk-alarm.js";
import { makeMessage, syncP, tempDir } from "./helpers.js";

test("MemoryStore keeps nothing, leaves messages in memory and confirms on a later turn", async () => {
  const s = new MemoryStore();
  const m = makeMessage(1);
  s.persist(m, ["/\u0000a"]);
  s.pageOut(m);
  assert.equal(m.storeId, 0, "storeId 0 tells the broker the body stays in memory");
  assert.notEqual(m.body, null);
  let confirmed = false;
  const p = syncP(s).then(() => (confirmed = true));
  assert.equal(confirmed, false, "sync never calls back synchronously");
  await p;
  assert.equal(s.recover().size, 0);
  assert.deepEqual(s.stats(), { messages: 0, bytes: 0, segments: 0 });
  await s.close();
});

test("freeDiskBytes agrees with df for the data directory", async () => {
  const { dir, cleanup } = tempDir("df");
  try {
    const free = freeDiskBytes(dir);
    const { total } = diskSpace(dir);
    assert.ok(free > 0 && free <= total);
    const dfKiB = Number(execFileSync("df", ["-k", "--output=avail", dir], { encoding: "utf8" }).trim().split("\n")[1]);
    // other processes write meanwhile: allow 1 GiB of drift
    assert.ok(Math.abs(free / 1024 - dfKiB) < 1024 * 1024, `statfs ${free / 1024} KiB vs df ${dfKiB} KiB`);
    assert.ok(Math.abs((await freeDiskBytesAsync(dir)) - free) < 2 ** 30);
  } finally {
    cleanup();
  }
});
