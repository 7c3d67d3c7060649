/**
 * kill -9 while persisting with fsync=always, ten times in a row on the same
 * data directory. RabbitMQ behaviour pinned down: a publisher confirm for a
 * persistent message routed to a durable queue means the message survives a
 * crash of the broker; an ack that was confirmed durable is not undone.
 * Checked after every kill: every confirmed, not-acked message is recovered,
 * intact, in order; no confirmed removal comes back; whatever else is found
 * (writes in flight at the kill) is intact too.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SegmentStore } from "../../../src/store/segment-store.js";
import { logSink, patternBody, tempDir } from "./helpers.js";

const WRITER = fileURLToPath(new URL("./kill9-writer.js", import.meta.url));

interface ChildRun {
  lines: string[];
}

/**
 * Run the writer until READY, SIGKILL it after `killAfterMs`, and read its event log. The log is a
 * file the writer appends to with synchronous write(2) calls, so every line it wrote before an
 * action is in the page cache when the action happens and survives the kill. (A stdout pipe does
 * not: once the pipe is full Node queues the writes in the process, and the kill drops them —
 * which made this test report "missing" messages whose removal line had been lost.)
 */
function runAndKill(dir: string, killAfterMs: number): Promise<ChildRun> {
  const logPath = `${dir}.events`;
  rmSync(logPath, { force: true });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER], { env: { ...process.env, WARREN_KILL9_DIR: dir, WARREN_KILL9_LOG: logPath }, stdio: ["ignore", "pipe", "inherit"] });
    let buf = "";
    let timer: NodeJS.Timeout | null = null;
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => {
      buf += d;
      if (timer === null && buf.includes("READY")) timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    });
    const guard = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("error", reject);
    child.on("close", (_code, signal) => {
      clearTimeout(guard);
      if (signal !== "SIGKILL") return reject(new Error(`writer exited by itself (${signal}); output: ${buf.slice(-500)}`));
      // a line cut by the kill is incomplete: only whole lines count
      const lines = readFileSync(logPath, "utf8").split("\n");
      lines.pop();
      rmSync(logPath, { force: true });
      resolve({ lines });
    });
  });
}

test("kill -9 at random moments: every confirmed message is recovered intact", { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir("kill9");
  try {
    // queue key -> ids that must be there; ids whose removal was confirmed must not
    const mustHave = new Map<string, Set<number>>();
    const mustNot = new Set<string>();
    let totalConfirmed = 0;
    for (let round = 0; round < 10; round++) {
      const run = await runAndKill(dir, 30 + Math.floor(Math.random() * 300));
      for (const line of run.lines) {
        const [tag, a, b, , keys] = line.split(" ");
        if (tag === "C") {
          totalConfirmed++;
          for (const k of keys!.split(",").map(decodeURIComponent)) {
            if (!mustHave.has(k)) mustHave.set(k, new Set());
            mustHave.get(k)!.add(Number(a));
          }
        } else if (tag === "r") {
          mustHave.get(decodeURIComponent(a!))?.delete(Number(b)); // may or may not have reached the disk
        } else if (tag === "R") {
          mustNot.add(`${decodeURIComponent(a!)} ${b}`);
        } else if (tag === "E") {
          assert.fail(`writer reported a store error: ${line}`);
        }
      }
      const s = SegmentStore.open({ dir, fsync: "always", segmentSize: 32 * 1024, log: logSink().log });
      const got = s.recover();
      for (const [k, ids] of mustHave) {
        const present = new Set((got.get(k) ?? []).map((m) => m.storeId));
        for (const id of ids) assert.ok(present.has(id), `round ${round}: confirmed ${id} missing from ${JSON.stringify(k)}`);
      }
      for (const [k, list] of got) {
        let prev = 0;
        for (const m of list) {
          assert.ok(m.storeId > prev, "queue order = id order");
          prev = m.storeId;
          assert.ok(!mustNot.has(`${k} ${m.storeId}`), `round ${round}: confirmed removal of ${m.storeId} undone`);
          const [, seed, len] = m.routingKey.split(".").map(Number) as [number, number, number];
          assert.equal(m.bodySize, len);
          assert.deepEqual(m.body ?? s.readBody(m.storeId), patternBody(seed, len));
          assert.deepEqual(m.propertiesRaw, Buffer.from([1, 2, 3]));
        }
        // whatever survived (confirmed or not) must survive the next rounds too
        if (!mustHave.has(k)) mustHave.set(k, new Set());
        for (const m of list) mustHave.get(k)!.add(m.storeId);
      }
      await s.close();
    }
    assert.ok(totalConfirmed > 100, `only ${totalConfirmed} confirms in 10 rounds: the test did not exercise much`);
  } finally {
    cleanup();
  }
});
