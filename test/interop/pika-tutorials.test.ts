/**
 * Interop: the six official RabbitMQ tutorials in Python with pika 1.x, run
 * unchanged (but for the broker URL, and a faster "second per dot" for the
 * worker) as child processes from test/interop/py/tutorials/.
 *
 * Asserts on what the tutorials print and on their exit codes: who receives
 * which message, in which order, fair dispatch under prefetch=1, redelivery to
 * another worker when one dies mid-task, server-named exclusive queues that
 * vanish with their connection, direct/topic routing, and RPC answers.
 * Uses amqplib only to look at broker state the scripts cannot show (queue
 * durability, delivery mode, a deleted exclusive queue).
 * Names are the tutorials' own; interopBroker() isolates this file.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { interopBroker, spawnPy, runPyOk, killAllPy, sleep, type InteropBroker, type PyProc } from "./interop-helpers.js";
import { waitFor } from "../helpers/wait.js";

let broker: InteropBroker;
let conn: amqp.ChannelModel;
before(async () => {
  broker = await interopBroker("pika-tutorials");
  conn = await amqp.connect(broker.url);
});
after(async () => {
  await killAllPy();
  await conn?.close().catch(() => {});
  await broker?.stop();
});

const T = (s: string): string => `tutorials/${s}`;
const received = (p: PyProc, marker = " [x] "): string[] => p.lines().filter((l) => l.startsWith(marker));

/** Run an amqplib operation on a throw-away channel and report the close code, if any. */
/** The result of `op` on a throwaway channel, or undefined when the broker refused it. */
async function channelResult<T>(op: (ch: amqp.Channel) => Promise<T>): Promise<T | undefined> {
  const ch = await conn.createChannel();
  ch.on("error", () => {});
  try {
    const r = await op(ch);
    await ch.close();
    return r;
  } catch {
    return undefined;
  }
}

async function channelErrorCode(op: (ch: amqp.Channel) => Promise<unknown>): Promise<number | undefined> {
  const ch = await conn.createChannel();
  ch.on("error", () => {});
  try {
    await op(ch);
    await ch.close();
    return undefined;
  } catch (e) {
    return (e as { code?: number }).code;
  }
}

// Tutorial 1: a message sent before anyone consumes waits in "hello"; a
// receiver started later gets it, then gets later ones as they come.
test("pika tutorial 1: hello world (send.py / receive.py)", async () => {
  const sent = await runPyOk(T("send.py"), broker.url);
  assert.equal(sent, " [x] Sent 'Hello World!'\n");
  const recv = spawnPy(T("receive.py"), broker.url);
  await recv.waitFor(" [*] Waiting for messages. To exit press CTRL+C");
  await recv.waitFor(" [x] Received b'Hello World!'");
  await runPyOk(T("send.py"), broker.url);
  await recv.waitFor(" [x] Received b'Hello World!'", 5000, 2);
  // let time pass: no further message may arrive (nothing to wait for)
  await sleep(200);
  const r = await recv.kill();
  assert.equal(r.stderr, "");
  assert.deepEqual(received(recv), [" [x] Received b'Hello World!'", " [x] Received b'Hello World!'"]);
});

// Tutorial 2: task_queue is durable and tasks are persistent (delivery_mode 2).
// RabbitMQ refuses to redeclare it non-durable (406 PRECONDITION_FAILED).
test("pika tutorial 2: durable queue, persistent tasks", async () => {
  const out = await runPyOk(T("new_task.py"), broker.url, ["First message."]);
  assert.equal(out, " [x] Sent 'First message.'\n");
  assert.equal(await channelErrorCode((ch) => ch.assertQueue("task_queue", { durable: false })), 406);
  const ch = await conn.createChannel();
  const msg = await ch.get("task_queue", { noAck: true });
  assert.ok(msg, "the task is in task_queue");
  assert.equal(msg.content.toString(), "First message.");
  assert.equal(msg.properties.deliveryMode, 2);
  await ch.close();
});

// Tutorial 2: with basic_qos(prefetch_count=1) a busy worker gets nothing more
// until it acks, so the idle worker takes every light task while the other
// is stuck on the heavy one (round-robin would have split them 4/3).
test("pika tutorial 2: fair dispatch with prefetch=1", async () => {
  const env = { DOT_SECONDS: "0.1" };
  const a = spawnPy(T("worker.py"), broker.url, [], { env });
  const b = spawnPy(T("worker.py"), broker.url, [], { env });
  await Promise.all([a.waitFor(" [*] Waiting for messages"), b.waitFor(" [*] Waiting for messages")]);
  // the banner is printed before basic.consume: wait until the queue has both consumers
  await waitFor("both workers consuming", async () => ((await channelResult((ch) => ch.checkQueue("task_queue"))) as amqp.Replies.AssertQueue | undefined)?.consumerCount === 2);
  const heavy = "heavy" + ".".repeat(20);
  await runPyOk(T("new_task.py"), broker.url, [heavy]);
  const busy = await Promise.race([a.waitFor("heavy").then(() => a), b.waitFor("heavy").then(() => b)]);
  const idle = busy === a ? b : a;
  // the light tasks go in quickly (amqplib) so they all wait while "heavy" runs
  const pub = await conn.createChannel();
  for (let i = 1; i <= 6; i++) pub.sendToQueue("task_queue", Buffer.from(`light${i}.`), { persistent: true });
  await pub.close();
  await idle.waitFor(" [x] Done", 8000, 6);
  await busy.waitFor(" [x] Done", 8000, 1);
  // let time pass: no further message may arrive (nothing to wait for)
  await sleep(200);
  await Promise.all([a.kill(), b.kill()]);
  assert.deepEqual(
    received(busy).filter((l) => l.includes("Received")),
    [` [x] Received '${heavy}'`],
  );
  assert.deepEqual(
    received(idle).filter((l) => l.includes("Received")),
    [1, 2, 3, 4, 5, 6].map((i) => ` [x] Received 'light${i}.'`),
  );
});

// Tutorial 2: a worker killed (SIGKILL) before acking loses its task to the
// next worker: RabbitMQ requeues unacked messages when the channel dies.
test("pika tutorial 2: unacked task redelivered after worker dies", async () => {
  const env = { DOT_SECONDS: "1" };
  const a = spawnPy(T("worker.py"), broker.url, [], { env });
  await a.waitFor(" [*] Waiting for messages");
  await runPyOk(T("new_task.py"), broker.url, ["dying......"]);
  await a.waitFor(" [x] Received 'dying......'");
  await a.kill("SIGKILL");
  assert.ok(!a.stdout.includes("Done"));
  const b = spawnPy(T("worker.py"), broker.url, [], { env: { DOT_SECONDS: "0.01" } });
  await b.waitFor(" [x] Done");
  // let time pass: no further message may arrive (nothing to wait for)
  await sleep(100);
  await b.kill();
  assert.deepEqual(received(b), [" [x] Received 'dying......'", " [x] Done"]);
  const ch = await conn.createChannel();
  assert.equal((await ch.checkQueue("task_queue")).messageCount, 0, "acked by the second worker");
  await ch.close();
});

// Tutorial 3: every subscriber's server-named exclusive queue gets a copy;
// the queue is named by the server (amq.gen-...) and dies with its connection.
test("pika tutorial 3: publish/subscribe (emit_log.py / receive_logs.py)", async () => {
  const subs = [spawnPy(T("receive_logs.py"), broker.url), spawnPy(T("receive_logs.py"), broker.url)];
  await Promise.all(subs.map((s) => s.waitFor(" [*] Waiting for logs.")));
  const out = await runPyOk(T("emit_log.py"), broker.url);
  assert.equal(out, " [x] Sent 'info: Hello World!'\n");
  await runPyOk(T("emit_log.py"), broker.url, ["second", "line"]);
  await Promise.all(subs.map((s) => s.waitFor(" [x] b'second line'")));
  // let time pass: no further message may arrive (nothing to wait for)
  await sleep(200);
  const names = subs.map((s) => /\[q\] (\S+)/.exec(s.stdout)?.[1] ?? "");
  for (const n of names) assert.match(n, /^amq\.gen-/);
  assert.notEqual(names[0], names[1]);
  for (const s of subs) assert.deepEqual(received(s), [" [x] b'info: Hello World!'", " [x] b'second line'"]);
  await Promise.all(subs.map((s) => s.kill()));
  await waitFor("exclusive queue deleted with its connection", async () => (await channelErrorCode((ch) => ch.checkQueue(names[0]!))) === 404);
});

// Tutorial 4: a direct exchange routes by exact binding key; one queue may
// have several binding keys and still gets each message once.
test("pika tutorial 4: routing (emit_log_direct.py / receive_logs_direct.py)", async () => {
  const usage = await spawnPy(T("receive_logs_direct.py"), broker.url).finish();
  assert.equal(usage.code, 1);
  assert.match(usage.stderr, /^Usage: /);
  const disk = spawnPy(T("receive_logs_direct.py"), broker.url, ["warning", "error"]);
  const screen = spawnPy(T("receive_logs_direct.py"), broker.url, ["info", "warning", "error"]);
  await Promise.all([disk, screen].map((s) => s.waitFor(" [*] Waiting for logs.")));
  assert.equal(await runPyOk(T("emit_log_direct.py"), broker.url, ["error", "Run. Run. Or it will explode."]), " [x] Sent 'error':'Run. Run. Or it will explode.'\n");
  await runPyOk(T("emit_log_direct.py"), broker.url);
  await runPyOk(T("emit_log_direct.py"), broker.url, ["debug", "nobody binds debug"]);
  await runPyOk(T("emit_log_direct.py"), broker.url, ["warning", "low disk"]);
  await screen.waitFor(" [x] ", 5000, 3);
  await disk.waitFor(" [x] ", 5000, 2);
  // let time pass: no further message may arrive (nothing to wait for)
  await sleep(200);
  await Promise.all([disk.kill(), screen.kill()]);
  assert.deepEqual(received(disk), [" [x] 'error':b'Run. Run. Or it will explode.'", " [x] 'warning':b'low disk'"]);
  assert.deepEqual(received(screen), [" [x] 'error':b'Run. Run. Or it will explode.'", " [x] 'info':b'Hello World!'", " [x] 'warning':b'low disk'"]);
});

// Tutorial 5: topic bindings — '*' is exactly one word, '#' zero or more.
test("pika tutorial 5: topics (emit_log_topic.py / receive_logs_topic.py)", async () => {
  const keys: Record<string, string[]> = {
    all: ["#"],
    kern: ["kern.*"],
    critical: ["*.critical"],
    both: ["kern.*", "*.critical"],
    lazy: ["lazy.#", "*.*.rabbit"],
    orange: ["*.orange.*"],
  };
  const subs = Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, spawnPy(T("receive_logs_topic.py"), broker.url, v)])) as Record<string, PyProc>;
  await Promise.all(Object.values(subs).map((s) => s.waitFor(" [*] Waiting for logs.")));
  const emits: Array<[string, string]> = [
    ["kern.critical", "A critical kernel error"],
    ["anonymous.info", "Hello World!"],
    ["kern.info.extra", "three words"],
    ["lazy", "zero words after lazy"],
    ["quick.orange.rabbit", "orange rabbit"],
    ["lazy.orange.male.rabbit", "four words"],
    ["quick.brown.fox", "matches only #"],
  ];
  for (const [rk, m] of emits) {
    assert.equal(await runPyOk(T("emit_log_topic.py"), broker.url, [rk, m]), ` [x] Sent '${rk}':'${m}'\n`);
  }
  const want: Record<string, string[]> = {
    all: emits.map(([rk]) => rk),
    kern: ["kern.critical"],
    critical: ["kern.critical"],
    both: ["kern.critical"],
    lazy: ["lazy", "quick.orange.rabbit", "lazy.orange.male.rabbit"],
    orange: ["quick.orange.rabbit"],
  };
  for (const [k, rks] of Object.entries(want)) await subs[k]!.waitFor(" [x] ", 5000, rks.length);
  // let time pass: no further message may arrive (nothing to wait for)
  await sleep(200);
  await Promise.all(Object.values(subs).map((s) => s.kill()));
  const msg = Object.fromEntries(emits);
  for (const [k, rks] of Object.entries(want)) {
    assert.deepEqual(
      received(subs[k]!),
      rks.map((rk) => ` [x] '${rk}':b'${msg[rk]}'`),
      `subscriber ${k} ${keys[k]!.join(" ")}`,
    );
  }
});

// Tutorial 6: RPC over a callback queue with reply_to + correlation_id; two
// clients at once each get their own answer.
test("pika tutorial 6: RPC (rpc_server.py / rpc_client.py)", async () => {
  const server = spawnPy(T("rpc_server.py"), broker.url);
  await server.waitFor(" [x] Awaiting RPC requests");
  const [c30, c10] = await Promise.all([runPyOk(T("rpc_client.py"), broker.url, ["30"], { ms: 20_000 }), runPyOk(T("rpc_client.py"), broker.url, ["10"])]);
  assert.equal(c30, " [x] Requesting fib(30)\n [.] Got 832040\n");
  assert.equal(c10, " [x] Requesting fib(10)\n [.] Got 55\n");
  await server.kill();
  assert.deepEqual(
    server
      .lines()
      .filter((l) => l.startsWith(" [.]"))
      .sort(),
    [" [.] fib(10)", " [.] fib(30)"],
  );
});
