/**
 * 16 MB of output streamed from a command through agent, broker and collector to a
 * `warren run --follow` (issue 18), with back-pressure: the agent keeps at most a small window
 * of output events unconfirmed by the broker and stops reading the command's pipes beyond it,
 * so the command blocks on its full pipe instead of the agent buffering what the broker cannot
 * take yet. The broker is a `warren server` process the test owns (SIGSTOP/SIGCONT), so the
 * file is skipped against an external broker.
 *
 * The command writes 256 lines of 64 KiB (16 MiB) and records how many it has written in a file.
 * While the broker is stopped, confirms stop: the count must stall far below 256 (what the
 * window, the pipe and one chunk hold). After SIGCONT every line reaches the follower, in
 * order, and the result is `ok` with the output capped at --max-output (the result's cap; the
 * live stream is not capped).
 *
 * RabbitMQ behaviour this relies on: publisher confirms of a confirm channel arrive only once
 * the broker has taken the message.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { startBrokerProcess, tempDir, type BrokerProcess } from "../helpers/broker.js";
import amqp from "amqplib";
import { cli, startFleet, until, sleep, type FleetProc } from "./procs.js";

const skip = process.env.WARREN_TEST_URL ? "needs a broker this test can stop and continue" : false;
let dir: string;
let broker: BrokerProcess | undefined;
let collector: FleetProc | undefined;
let agent: FleetProc | undefined;
const common = (): string[] => ["--url", broker!.url, "--data-dir", dir];
const LINES = 256;
const LINE = 64 * 1024;

before(async () => {
  if (skip) return;
  dir = tempDir("warren-stream-");
  broker = await startBrokerProcess(join(dir, "broker"), ["--mgmt-port", "off", "--prometheus-port", "off", "--no-fleet"]);
  collector = startFleet("collector", common());
  await collector.waitLog(/collector consuming/);
  agent = startFleet("agent", ["--name", "big1", "--groups", "big", "--heartbeat", "60s", "--grace", "1s", ...common()]);
  await agent.waitLog(/ready on/);
  await until("host known", async () => {
    const r = await cli(["hosts", "--json", ...common()]);
    return (JSON.parse(r.stdout || "[]") as Array<{ name: string }>).some((h) => h.name === "big1");
  });
});

after(async () => {
  if (broker?.child.exitCode === null) broker.child.kill("SIGCONT");
  await agent?.stop();
  await collector?.stop();
  await broker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let lastProgress = 0;
/** lines the command has written (the file is rewritten by `echo $i >`: a read can find it empty) */
const progress = (): number => {
  try {
    lastProgress = Math.max(lastProgress, Number(readFileSync(join(dir, "progress"), "utf8").trim() || 0));
  } catch {
    /* not written yet */
  }
  return lastProgress;
};

test("16 MB of output stream to --follow; a stopped broker holds the command back", { skip, timeout: 240_000 }, async () => {
  // line i: "i:" then x up to 64 KiB with the newline
  const cmd = `i=0; while [ $i -lt ${LINES} ]; do printf '%05d:' $i; head -c ${LINE - 7} /dev/zero | tr '\\0' x; echo; i=$((i+1)); echo $i > ${join(dir, "progress")}; done`;
  const follow = startFleet("run", [cmd, "--hosts", "big1", "--follow", "--timeout", "3m", "--max-output", "1M", ...common()]);
  await until("the command started writing", async () => progress() >= 1, 60_000);
  broker!.child.kill("SIGSTOP");
  try {
    // A window of time is the point here: with the broker stopped, nothing may let the command
    // go on. After two seconds the agent's window, the pipe and the socket buffers are full (how
    // much they hold depends on the kernel); from then on the command must be stalled.
    await sleep(2000);
    const filled = progress();
    await sleep(2000);
    const held = progress();
    assert.ok(held < LINES, `the command wrote all ${LINES} lines while the broker was stopped: the agent did not hold it back`);
    assert.ok(held - filled <= 2, `the command kept writing while the broker was stopped (${filled} → ${held} of ${LINES} lines): the agent did not hold it back`);
  } finally {
    broker!.child.kill("SIGCONT");
  }
  const code = await follow.exited;
  assert.equal(code, 0, follow.err);
  // every line, in order, each whole
  const got = follow.out
    .split("\n")
    .map((l) => /(\d{5}):(x+)$/.exec(l))
    .filter((m) => m !== null);
  assert.equal(got.length, LINES, `lines streamed to --follow: ${got.length}`);
  got.forEach((m, i) => {
    assert.equal(Number(m[1]), i);
    assert.equal(m[2]!.length, LINE - 7);
  });
  const id = Number(/task id: (\d+)/.exec(follow.out)?.[1]);
  const r = await cli(["check_task", String(id), "--json", ...common()]);
  const v = JSON.parse(r.stdout) as { results: Array<{ status: string; truncated: boolean; stdout: string }> };
  assert.equal(v.results[0]?.status, "ok");
  assert.equal(v.results[0]?.truncated, true, "the result keeps --max-output, the stream had it all");
  assert.ok(v.results[0]!.stdout.length <= 1 << 20);
});

test("a quick command that prints nothing reports only its result; one running past 200 ms is announced `started` first", { skip, timeout: 60_000 }, async () => {
  // Listen beside the collector: a queue of our own bound to fleet.results for progress events.
  const conn = await amqp.connect(broker!.url);
  try {
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue("", { exclusive: true });
    await ch.bindQueue(queue, "fleet.results", "event");
    const events: Array<{ kind: string; task: number; at?: number }> = [];
    await ch.consume(queue, (m) => m && events.push(JSON.parse(m.content.toString()) as { kind: string; task: number; at?: number }), { noAck: true });
    const taskOf = (out: string): number => Number(/task id: (\d+)/.exec(out)?.[1]);
    const quick = await cli(["run", "true", "--hosts", "big1", "--wait", ...common()]);
    assert.equal(quick.code, 0, quick.stderr);
    const slow = await cli(["run", "sleep 1", "--hosts", "big1", "--wait", ...common()]);
    assert.equal(slow.code, 0, slow.stderr);
    const [q, s] = [taskOf(quick.stdout), taskOf(slow.stdout)];
    const result = async (id: number): Promise<{ status: string; startedAt: number | null; finishedAt: number | null }> =>
      (JSON.parse((await cli(["check_task", String(id), "--json", ...common()])).stdout) as { results: Array<{ status: string; startedAt: number | null; finishedAt: number | null }> }).results[0]!;
    // The agent publishes `started` before the result it precedes, on the same channel: by the
    // time --wait saw the result, the event is in our queue (or on its way: give it a moment).
    const started = await until("started event of the slow command", async () => events.find((e) => e.task === s && e.kind === "started"), 5000);
    assert.deepEqual(
      events.filter((e) => e.task === q),
      [],
      "a command that finished within 200 ms sent no progress event",
    );
    const rq = await result(q);
    assert.equal(rq.status, "ok");
    assert.ok(typeof rq.startedAt === "number" && rq.startedAt <= rq.finishedAt!, `the quick command's start comes with its result (${JSON.stringify(rq)})`);
    const rs = await result(s);
    assert.equal(rs.status, "ok");
    assert.equal(rs.startedAt, started.at, "the stored start is the one announced");
    assert.ok(rs.finishedAt! - rs.startedAt! >= 900, `sleep 1 ran ${rs.finishedAt! - rs.startedAt!} ms`);
  } finally {
    await conn.close();
  }
});
