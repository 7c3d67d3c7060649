/**
 * The disk alarm's probe (src/main/alarms.ts). RabbitMQ behaviour pinned down: the disk
 * alarm compares disk_free_limit with the free space of the data directory's file system,
 * the figure df reports. (Reads the local file system: nothing to run against RabbitMQ.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { freeDiskBytes } from "../../../src/main/alarms.js";
import { tempDir } from "./helpers.js";

test("freeDiskBytes agrees with df for the data directory", () => {
  const { dir, cleanup } = tempDir("df");
  try {
    const free = freeDiskBytes(dir);
    assert.ok(free > 0);
    const dfKiB = Number(execFileSync("df", ["-k", "--output=avail", dir], { encoding: "utf8" }).trim().split("\n")[1]);
    // other processes write meanwhile: allow 1 GiB of drift
    assert.ok(Math.abs(free / 1024 - dfKiB) < 1024 * 1024, `statfs ${free / 1024} KiB vs df ${dfKiB} KiB`);
  } finally {
    cleanup();
  }
});
