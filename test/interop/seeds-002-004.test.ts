/**
 * Interop: the programs of seed posts 002 and 004 (/work/shared/seeds/; 003 has
 * no code), ported to pika 1.x and otherwise kept as written
 * (test/interop/py/seeds/s002_*, s004_*), run as child processes — including
 * their mistakes, whose consequences are RabbitMQ behaviour too (acking in
 * no-ack mode, redeclaring a queue with other properties).
 * Uses amqplib only to inspect or reset broker state.
 * Names are the posts' own; interopBroker() isolates this file.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { interopBroker, spawnPy, runPy, runPyOk, killAllPy, sleep, type InteropBroker, type PyProc } from "./interop-helpers.js";
import { waitFor } from "../helpers/wait.js";

let broker: InteropBroker;
let conn: amqp.ChannelModel;
before(async () => {
  broker = await interopBroker("seeds-002-004");
  conn = await amqp.connect(broker.url);
});
after(async () => {
  await killAllPy();
  await conn?.close().catch(() => {});
  await broker?.stop();
});

const S = (s: string): string => `seeds/${s}`;
const only = (p: PyProc, prefix: string): string[] => p.lines().filter((l) => l.startsWith(prefix));
const fast = { SLEEP_SCALE: "0.001" };

async function deleteQueue(q: string): Promise<void> {
  const ch = await conn.createChannel();
  await ch.deleteQueue(q);
  await ch.close();
}

// Seed 002 "实现最简单的队列通信": sender then receiver on 'hello'.
test("seed 002: hello sender/receiver", async () => {
  assert.equal(await runPyOk(S("s002_send.py"), broker.url), " [x] Sent 'Hello World!'\n");
  const recv = spawnPy(S("s002_recv.py"), broker.url, [], { env: fast });
  // the whole line: a prefix can match while the rest of the line is still in the pipe
  await recv.waitFor(" [x] msg process done.... b'Hello World!'\n");
  await recv.kill();
  assert.deepEqual(recv.lines(), [" [*] Waiting for messages. To exit press CTRL+C", "received msg...start processing.... b'Hello World!'", " [x] msg process done.... b'Hello World!'"]);
});

// Seed 002 "Work Queues" consumer as written: auto_ack=True plus basic_ack.
// RabbitMQ closes the channel: 406 PRECONDITION_FAILED - unknown delivery tag 1.
test("seed 002: basic_ack in no-ack mode closes the channel with 406", async () => {
  const out = await runPyOk(S("s002_task_send.py"), broker.url, ["job1"]);
  assert.equal(out, " [x] Sent 'job1'\n");
  const w = spawnPy(S("s002_task_recv_noack.py"), broker.url, [], { env: fast });
  const r = await w.finish(10_000);
  assert.notEqual(r.code, 0);
  assert.deepEqual(w.lines(), [" [*] Waiting for messages. To exit press CTRL+C", " [x] Received b'job1'", " [x] Done", "method.delivery_tag 1"]);
  assert.match(r.stderr, /ChannelClosedByBroker: \(406, 'PRECONDITION_FAILED - unknown delivery tag 1'\)/);
});

// Seed 002: its first task_queue is non-durable; the later durable declaration
// of the same name is refused (406) until the old queue is deleted.
test("seed 002: durable redeclare of a non-durable task_queue fails until it is deleted", async () => {
  const r = await runPy(S("s002_new_task.py"), broker.url, ["x"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /ChannelClosedByBroker: \(406, "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'task_queue'/);
  await deleteQueue("task_queue");
  assert.equal(await runPyOk(S("s002_new_task.py"), broker.url, ["x"]), " [x] Sent 'x'\n");
  const ch = await conn.createChannel();
  const m = await ch.get("task_queue", { noAck: true });
  assert.equal(m && m.properties.deliveryMode, 2);
  await ch.close();
});

// Seed 002 "带消息持久化+公平分发": prefetch_count=1 — the worker busy with a
// long task gets no more; the other worker takes all the short ones.
test("seed 002: fair dispatch between two workers", async () => {
  const env = { SLEEP_SCALE: "0.1" };
  const a = spawnPy(S("s002_worker.py"), broker.url, [], { env });
  const b = spawnPy(S("s002_worker.py"), broker.url, [], { env });
  await Promise.all([a.waitFor(" [*] Waiting"), b.waitFor(" [*] Waiting")]);
  // the banner is printed before basic.consume: wait until the queue has both consumers
  await waitFor("both consumers on task_queue", async () => {
    const ch = await conn.createChannel();
    const n = (await ch.checkQueue("task_queue")).consumerCount;
    await ch.close();
    return n === 2;
  });
  await runPyOk(S("s002_new_task.py"), broker.url, ["long" + ".".repeat(20)]);
  const busy = await Promise.race([a.waitFor("long").then(() => a), b.waitFor("long").then(() => b)]);
  const idle = busy === a ? b : a;
  const pub = await conn.createChannel();
  for (let i = 1; i <= 5; i++) pub.sendToQueue("task_queue", Buffer.from(`short${i}.`), { persistent: true });
  await pub.close();
  await idle.waitFor(" [x] Done", 8000, 5);
  await busy.waitFor(" [x] Done", 8000, 1);
  await Promise.all([a.kill(), b.kill()]);
  assert.deepEqual(only(busy, " [x] Received"), [` [x] Received b'long${".".repeat(20)}'`]);
  assert.deepEqual(
    only(idle, " [x] Received"),
    [1, 2, 3, 4, 5].map((i) => ` [x] Received b'short${i}.'`),
  );
});

// Seed 002 (and seed 004, same program) "Publish\Subscribe": every subscriber gets the message.
test("seed 002/004: fanout logs to every subscriber", async () => {
  const subs = [spawnPy(S("s002_receive_logs.py"), broker.url), spawnPy(S("s002_receive_logs.py"), broker.url)];
  await Promise.all(subs.map((s) => s.waitFor(" [*] Waiting for logs.")));
  assert.equal(await runPyOk(S("s002_emit_log.py"), broker.url), " [x] Sent 'info: Hello World!'\n");
  await runPyOk(S("s002_emit_log.py"), broker.url, ["disk", "full"]);
  await Promise.all(subs.map((s) => s.waitFor(" [x] b'disk full'")));
  await Promise.all(subs.map((s) => s.kill()));
  for (const s of subs) assert.deepEqual(only(s, " [x]"), [" [x] b'info: Hello World!'", " [x] b'disk full'"]);
});

// Seed 002 "exchange type=direct": severities from argv; no argv is a usage error.
test("seed 002: direct routing by severity", async () => {
  const usage = await runPy(S("s002_receive_logs_direct.py"), broker.url);
  assert.equal(usage.code, 1);
  assert.match(usage.stderr, /^Usage: .* \[info\] \[warning\] \[error\]/);
  const errs = spawnPy(S("s002_receive_logs_direct.py"), broker.url, ["error"]);
  const infos = spawnPy(S("s002_receive_logs_direct.py"), broker.url, ["info", "warning"]);
  await Promise.all([errs.waitFor(" [*] Waiting"), infos.waitFor(" [*] Waiting")]);
  assert.equal(await runPyOk(S("s002_emit_log_direct.py"), broker.url, ["error", "mysql has error"]), " [x] Sent 'error':'mysql has error'\n");
  await runPyOk(S("s002_emit_log_direct.py"), broker.url);
  await Promise.all([errs.waitFor(" [x] "), infos.waitFor(" [x] ")]);
  // let time pass: no further message may arrive (nothing to wait for)
  await sleep(200);
  await Promise.all([errs.kill(), infos.kill()]);
  assert.deepEqual(only(errs, " [x]"), [" [x] 'error':b'mysql has error'"]);
  assert.deepEqual(only(infos, " [x]"), [" [x] 'info':b'Hello World!'"]);
});

// Seed 002 rabbit_topic_send/recv, replaying the post's own session: 'error'
// gets error; '*.warning mysql.*' gets mysql.error and mysql.info; '*.error.*'
// gets "mysql.error." (three words, the last one empty) but not mysql.error.
test("seed 002: topic session from the post", async () => {
  const r1 = spawnPy(S("s002_topic_recv.py"), broker.url, ["error"]);
  const r2 = spawnPy(S("s002_topic_recv.py"), broker.url, ["*.warning", "mysql.*"]);
  const r3 = spawnPy(S("s002_topic_recv.py"), broker.url, ["*.error.*"]);
  await Promise.all([r1, r2, r3].map((r) => r.waitFor(" [*] Waiting for logs.")));
  for (const k of ["error", "mysql.error", "mysql.info", "mysql.error."]) {
    assert.equal(await runPyOk(S("s002_topic_send.py"), broker.url, [k, "mysql has error"]), ` [x] Sent '${k}':'mysql has error'\n`);
  }
  await r2.waitFor(" [x] '", 5000, 2);
  await r3.waitFor(" [x] '");
  // let time pass: no further message may arrive (nothing to wait for)
  await sleep(200);
  await Promise.all([r1, r2, r3].map((r) => r.kill()));
  assert.deepEqual(only(r1, " [x] '"), [" [x] 'error':b'mysql has error'"]);
  assert.deepEqual(only(r2, " [x] '"), [" [x] 'mysql.error':b'mysql has error'", " [x] 'mysql.info':b'mysql has error'"]);
  assert.deepEqual(only(r3, " [x] '"), [" [x] 'mysql.error.':b'mysql has error'"]);
});

// Seed 002 "SSH RPC": the client sends a shell command, the server runs it and
// replies with its output (stderr when stdout is empty) on the reply_to queue.
test("seed 002: SSH RPC runs a command and returns its output", async () => {
  const server = spawnPy(S("s002_ssh_rpc_server.py"), broker.url);
  await server.waitFor(" [x] Awaiting RPC requests");
  const ok = await runPyOk(S("s002_ssh_rpc_client.py"), broker.url, ["echo hello from ssh rpc; echo line2"], { ms: 15_000 });
  assert.match(ok, /^ \[x\] sending cmd\nstart waiting for cmd result \nloop {2}0\n/);
  assert.match(ok, /\nb'hello from ssh rpc\\nline2\\n'\n \[\.\] Got result \nhello from ssh rpc\nline2\n\n$/);
  const missing = await runPyOk(S("s002_ssh_rpc_client.py"), broker.url, [], { ms: 15_000 });
  assert.match(missing, / \[\.\] Got result \n.*ipconfig: not found\n/);
  await server.kill();
  assert.deepEqual(only(server, "recv cmd:"), ["recv cmd: b'echo hello from ssh rpc; echo line2'", "recv cmd: b'ipconfig'"]);
});

// Seed 004: hello producer/consumer; then "消息失联策略": a consumer stopped
// before acking leaves the message for the next consumer.
test("seed 004: hello, and an unacked message survives its consumer", async () => {
  await deleteQueue("hello"); // seed 002's run left a non-durable hello; start clean
  assert.equal(await runPyOk(S("s004_send.py"), broker.url), " [x] Sent 'Hello World!'\n");
  const recv = spawnPy(S("s004_recv.py"), broker.url);
  await recv.waitFor(" [x] Received b'Hello World!'");
  await recv.kill();
  await runPyOk(S("s004_send.py"), broker.url);
  const slow = spawnPy(S("s004_recv_ack.py"), broker.url);
  await slow.waitFor(" [x] Received b'Hello World!'");
  await slow.kill("SIGINT");
  assert.ok(!slow.stdout.includes("ok"));
  const again = spawnPy(S("s004_recv_ack.py"), broker.url, [], { env: fast });
  await again.waitFor("ok");
  await again.kill();
  assert.deepEqual(again.lines().slice(1), [" [x] Received b'Hello World!'", "ok"]);
});

// Seed 004 "服务器异常策略": declaring the existing non-durable 'hello' durable
// fails (406) — the post's own remark that an existing queue cannot be made
// durable; after deleting it, the durable producer and consumer work.
test("seed 004: durable hello only for a newly created queue", async () => {
  const r = await runPy(S("s004_send_durable.py"), broker.url);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /406, "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'hello'/);
  await deleteQueue("hello");
  assert.equal(await runPyOk(S("s004_send_durable.py"), broker.url), " [x] Sent 'Hello World!'\n");
  const recv = spawnPy(S("s004_recv_ack.py"), broker.url, ["durable"], { env: fast });
  await recv.waitFor("ok");
  await recv.kill();
  assert.deepEqual(recv.lines().slice(1), [" [x] Received b'Hello World!'", "ok"]);
});

// Seed 004 "关键字匹配": two queues share the key 'db'; a message to 'db' reaches both.
test("seed 004: direct exchange, two queues sharing binding key db", async () => {
  const dali = spawnPy(S("s004_direct_recv_dali.py"), broker.url);
  const erbi = spawnPy(S("s004_direct_recv_erbi.py"), broker.url);
  await Promise.all([dali.waitFor(" [*] Waiting"), erbi.waitFor(" [*] Waiting")]);
  assert.equal(await runPyOk(S("s004_direct_send.py"), broker.url), " [x] Sent 'dali':'Hello World!'\n");
  await Promise.all([dali.waitFor(" [x] "), erbi.waitFor(" [x] ")]);
  // let time pass: no further message may arrive (nothing to wait for)
  await sleep(200);
  await Promise.all([dali.kill(), erbi.kill()]);
  assert.deepEqual(only(dali, " [x]"), [" [x] b'Hello World!'"]);
  assert.deepEqual(only(erbi, " [x]"), [" [x] b'Hello World!'"]);
});
