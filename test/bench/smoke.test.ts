/**
 * Smoke test of `npm run bench`: runs dist/bench/run.js --smoke against warren
 * only (a fresh `warren server` child process per measurement) and checks that
 * it exits 0 and prints one table row per smoke scenario (s1, s2, s4).
 *
 * It never asserts on speed: CI machines are too noisy for timed assertions.
 * What it pins down is that the load generator's own AMQP framing (handshake,
 * queue.declare, basic.qos, basic.consume, confirm.select, pre-encoded
 * basic.publish, multiple acks) interoperates with the broker end to end — the
 * same framing has been checked against RabbitMQ 3.10 with `--only rabbitmq`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../helpers/broker.js";

test("bench --smoke runs s1, s2, s4 against warren and prints a table", { timeout: 120_000 }, async () => {
  const runner = join(repoRoot, "dist", "bench", "run.js");
  const child = spawn(process.execPath, [runner, "--smoke", "--only", "warren"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  assert.equal(code, 0, `bench exited ${code}\nstdout:\n${out}\nstderr:\n${err}`);
  assert.match(out, /^scenario\s+metric\s+warren median/m);
  for (const id of ["s1", "s2", "s4"]) {
    // a row per scenario, with a number in the warren column (not "failed" or "n/a")
    assert.match(out, new RegExp(`^${id}\\s+\\S.*?\\s{2}[\\d,.]+\\s`, "m"), `no figure for ${id} in:\n${out}`);
  }
  assert.doesNotMatch(out, /failed/);
});

// The relay floor (docs/benchmarks.md, "Reading the rows that miss") must keep
// running: one short round, a throughput figure and latency percentiles printed.
test("relay-floor runs one round and prints MB/s and latency percentiles", { timeout: 60_000 }, async () => {
  const tool = join(repoRoot, "dist", "bench", "relay-floor.js");
  const child = spawn(process.execPath, [tool, "--seconds", "1", "--rounds", "1"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  assert.equal(code, 0, `relay-floor exited ${code}\nstdout:\n${out}\nstderr:\n${err}`);
  const m = /^round 1: (\d+) MB\/s at \d+% CPU \(relay\); latency ms p50 ([\d.]+) p99 ([\d.]+) p99\.9 ([\d.]+) \((\d+) samples\)$/m.exec(out);
  assert.ok(m, `unexpected output:\n${out}`);
  assert.ok(Number(m[1]) > 0, "bytes went through the relay");
  assert.ok(Number(m[5]) > 1000, "latency samples were recorded (5,000/s for 1 s)");
  assert.ok(Number(m[2]) <= Number(m[3]) && Number(m[3]) <= Number(m[4]), "percentiles are ordered");
});

// f1 (Fleet's control plane) drives bench/fleet-bench.ts as a child and reads its table: a
// change to either side that breaks the other shows here. 100 no-op agents, two tasks; every
// result must come back `ok` (the "not ok" row is 0).
test("bench f1 runs 100 no-op agents against warren: a run → stored figure and every result ok", { timeout: 120_000 }, async () => {
  const runner = join(repoRoot, "dist", "bench", "run.js");
  const args = [runner, "--only", "warren", "--scenarios", "f1", "--f1-hosts", "100", "--f1-runs", "2", "--rounds", "1"];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  assert.equal(code, 0, `bench exited ${code}\nstdout:\n${out}\nstderr:\n${err}`);
  const stored = /^f1\s+f1 100 no-op agents: run → all results stored \(median of 2\)\s+([\d,.]+)\s/m.exec(out);
  assert.ok(stored && Number(stored[1]!.replace(/,/g, "")) > 0, `no run → stored figure in:\n${out}`);
  assert.match(out, /^f1\s+f1 results not ok \(all runs\)\s+0\.0\s/m, `some results were not ok:\n${out}\n${err}`);
  assert.match(err, /\[f1\]\s+runs: \d+ ms \(task id [\d.]+ ms\), \d+ ms \(task id [\d.]+ ms\)$/m, "each task's figure is logged");
});
