/**
 * Interop: the programs of seed posts 000 and 001 (/work/shared/seeds/), ported
 * to pika 1.x and otherwise kept as written (test/interop/py/seeds/s000_*,
 * s001_*), run as child processes. Each test checks what the post says the
 * program prints or does.
 * Uses amqplib only to inspect broker state the scripts cannot show.
 * Names are the posts' own; interopBroker() isolates this file.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { interopBroker, spawnPy, runPyOk, killAllPy, sleep, type InteropBroker, type PyProc } from "./interop-helpers.js";
import { waitFor } from "../helpers/wait.js";

let broker: InteropBroker;
let conn: amqp.ChannelModel;
before(async () => {
  broker = await interopBroker("seeds-000-001");
  conn = await amqp.connect(broker.url);
});
after(async () => {
  await killAllPy();
  await conn?.close().catch(() => {});
  await broker?.stop();
});

const S = (s: string): string => `seeds/${s}`;
const only = (p: PyProc, prefix: string): string[] => p.lines().filter((l) => l.startsWith(prefix));

// Seed 000 (000_6ce9029cad06c591.txt): one fanout exchange per host group; the
// server publishes "group command" and every host consuming a server-named
// exclusive queue bound to that group's exchange runs the command; hosts of
// other groups do not. Bad input prints the usage text.
test("seed 000: command to a host group over a per-group fanout exchange", async () => {
  const nb1 = spawnPy(S("s000_client.py"), broker.url);
  const nb2 = spawnPy(S("s000_client.py"), broker.url);
  const web = spawnPy(S("s000_client.py"), broker.url, ["web"]);
  await Promise.all([nb1.waitFor(" [*] Waiting for NB."), nb2.waitFor(" [*] Waiting for NB."), web.waitFor(" [*] Waiting for web.")]);
  const server = spawnPy(S("s000_server.py"), broker.url, [], { input: "NB echo hello-NB-hosts\nweb echo hello-web-hosts\nnospace\n\n" });
  const r = await server.finish(10_000);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /对主机组\[NB\],下发命令\[echo hello-NB-hosts\]执行/);
  assert.match(r.stdout, /对主机组\[web\],下发命令\[echo hello-web-hosts\]执行/);
  assert.match(r.stdout, /输入错误:not enough values to unpack/);
  assert.match(r.stdout, /\[group\] \[command\]/);
  await Promise.all([nb1.waitFor("hello-NB-hosts"), nb2.waitFor("hello-NB-hosts"), web.waitFor("hello-web-hosts")]);
  // let time pass: no further message may arrive (nothing to wait for)
  await sleep(200);
  await Promise.all([nb1.kill(), nb2.kill(), web.kill()]);
  for (const h of [nb1, nb2]) assert.deepEqual(h.lines().slice(1), ["hello-NB-hosts"]);
  assert.deepEqual(web.lines().slice(1), ["hello-web-hosts"]);
});

// Seed 001 "简单的队列通信": the message waits in 'hello' until recv starts;
// recv prints the channel, the Basic.Deliver method and the properties.
test("seed 001: hello send/recv prints channel, method, properties, body", async () => {
  assert.equal(await runPyOk(S("s001_send.py"), broker.url), "Send: 'Hello World!'\n");
  const recv = spawnPy(S("s001_recv.py"), broker.url);
  await recv.waitFor("Recv: b'Hello World!'");
  // let time pass: no further message may arrive (nothing to wait for)
  await sleep(100);
  await recv.kill();
  const lines = recv.lines();
  assert.equal(lines[0], "等待接收消息,按 CTRL+C 退出");
  assert.match(lines[1]!, /^<BlockingChannel impl=<Channel number=1 OPEN/);
  assert.match(lines[2]!, /^<Basic\.Deliver\(\['consumer_tag=ctag1\.\w+', 'delivery_tag=1', 'exchange=', 'redelivered=False', 'routing_key=hello'\]\)>$/);
  assert.match(lines[3]!, /^<BasicProperties/);
  assert.equal(lines[4], "Recv: b'Hello World!'");
  assert.equal(lines.length, 5);
});

// Seed 001 "消息分发轮训": several recv ends on one queue; each message goes to
// exactly one of them, in turn.
test("seed 001: round-robin between two recv ends", async () => {
  const a = spawnPy(S("s001_recv.py"), broker.url);
  const b = spawnPy(S("s001_recv.py"), broker.url);
  await Promise.all([a.waitFor("等待接收消息"), b.waitFor("等待接收消息")]);
  // the banner is printed before basic.consume: wait until the queue has both consumers
  await waitFor("both consumers on hello", async () => {
    const ch = await conn.createChannel();
    const n = (await ch.checkQueue("hello")).consumerCount;
    await ch.close();
    return n === 2;
  });
  for (let i = 0; i < 4; i++) await runPyOk(S("s001_send.py"), broker.url);
  await waitFor("4 messages received", () => only(a, "Recv: ").length + only(b, "Recv: ").length === 4);
  const [ra, rb] = [only(a, "Recv: ").length, only(b, "Recv: ").length];
  await Promise.all([a.kill(), b.kill()]);
  assert.deepEqual([ra, rb], [2, 2]);
});

// Seed 001, ack version: a recv end stopped mid-processing never acked, so the
// message is handed to another recv end ("这个消息还会有别的recv端重新处理").
test("seed 001: unacked message goes to another recv end when one is stopped", async () => {
  const slow = spawnPy(S("s001_recv_ack.py"), broker.url, [], { env: { SLEEP_SCALE: "1" } });
  await slow.waitFor("等待接收消息");
  await runPyOk(S("s001_send.py"), broker.url);
  await slow.waitFor("\r0");
  await slow.kill("SIGINT"); // CTRL+C, as the post does
  assert.ok(!slow.stdout.includes("Recv:"));
  const fast = spawnPy(S("s001_recv_ack.py"), broker.url, [], { env: { SLEEP_SCALE: "0.001" } });
  await fast.waitFor("Recv: b'Hello World!'");
  // let time pass: no further message may arrive (nothing to wait for)
  await sleep(100);
  await fast.kill();
  assert.match(fast.stdout, /\r0\r1\r2\r3\r4\r5\r6\r7\r8\r9\rTime's up\nRecv: b'Hello World!'\n$/);
  const ch = await conn.createChannel();
  assert.equal((await ch.checkQueue("hello")).messageCount, 0);
  await ch.close();
});

// Seed 001 "消息持久化": hello2 is durable and its message persistent; redeclaring
// it with other properties is an error ("属性需要与已有的队列一致").
test("seed 001: durable queue hello2 with a persistent message", async () => {
  assert.equal(await runPyOk(S("s001_send_durable.py"), broker.url), "Send: 'Hello World!'\n");
  const ch = await conn.createChannel();
  const m = await ch.get("hello2", { noAck: true });
  assert.ok(m);
  assert.equal(m.content.toString(), "Hello2 World!");
  assert.equal(m.properties.deliveryMode, 2);
  await ch.close();
  const bad = await conn.createChannel();
  bad.on("error", () => {});
  await assert.rejects(bad.assertQueue("hello2", { durable: false }), /PRECONDITION_FAILED/);
});

// Seed 001 "广播": a broadcast sent before any queue is bound is lost; after
// two recv ends bind their own queues, each gets its own copy.
test("seed 001: broadcast fanout; unbound messages are dropped", async () => {
  assert.equal(await runPyOk(S("s001_fanout_send.py"), broker.url), "Send: 'Hello World!'\n");
  const subs = [spawnPy(S("s001_fanout_recv.py"), broker.url), spawnPy(S("s001_fanout_recv.py"), broker.url)];
  await Promise.all(subs.map((s) => s.waitFor("等待接收消息")));
  await runPyOk(S("s001_fanout_send.py"), broker.url);
  await Promise.all(subs.map((s) => s.waitFor("Recv: ")));
  // let time pass: no further message may arrive (nothing to wait for)
  await sleep(200);
  await Promise.all(subs.map((s) => s.kill()));
  for (const s of subs) assert.deepEqual(only(s, "Recv: "), ["Recv: b'Hello World!'"]);
});

// Seed 001 "有选择的接收消息": direct_logs declared with the default type (direct);
// a queue bound to all three severities gets three messages, one bound to
// 'error' gets one; method shows exchange and routing key.
test("seed 001: direct exchange with several binding keys", async () => {
  const all = spawnPy(S("s001_direct_recv.py"), broker.url);
  const err = spawnPy(S("s001_direct_recv.py"), broker.url, ["error"]);
  await Promise.all([all.waitFor("等待接收消息"), err.waitFor("等待接收消息")]);
  const out = await runPyOk(S("s001_direct_send.py"), broker.url);
  assert.equal(out, "Send: error: Hello World!\nSend: warning: Hello World!\nSend: info: Hello World!\n");
  await all.waitFor("Recv: ", 5000, 3);
  await err.waitFor("Recv: ");
  // let time pass: no further message may arrive (nothing to wait for)
  await sleep(200);
  await Promise.all([all.kill(), err.kill()]);
  assert.deepEqual(all.lines().slice(1), [
    "direct_logs error",
    "Recv: b'error: Hello World!'",
    "direct_logs warning",
    "Recv: b'warning: Hello World!'",
    "direct_logs info",
    "Recv: b'info: Hello World!'",
  ]);
  assert.deepEqual(err.lines().slice(1), ["direct_logs error", "Recv: b'error: Hello World!'"]);
});

// Seed 001 "更细致的消息过滤": anonymous.info matches *.info but a.anonymous.info.b
// does not; #.key_word.# matches key_word anywhere (even alone) but not key_words.
test("seed 001: topic filtering with * and #", async () => {
  const info = spawnPy(S("s001_topic_recv.py"), broker.url);
  const kw = spawnPy(S("s001_topic_recv.py"), broker.url, ["#.key_word.#"]);
  const all = spawnPy(S("s001_topic_recv.py"), broker.url, ["#"]);
  await Promise.all([info, kw, all].map((s) => s.waitFor("等待接收消息")));
  assert.equal(await runPyOk(S("s001_topic_send.py"), broker.url), "Send: anonymous.info: Hello World!\n");
  const keys = ["a.anonymous.info.b", "key_word", "a.key_word.b.c", "key_words", "x.key_word"];
  for (const k of keys) await runPyOk(S("s001_topic_send.py"), broker.url, [k]);
  await all.waitFor("Recv: ", 5000, 6);
  // let time pass: no further message may arrive (nothing to wait for)
  await sleep(200);
  await Promise.all([info, kw, all].map((s) => s.kill()));
  const r = (k: string): string => `Recv: b'${k}: Hello World!'`;
  assert.deepEqual(only(info, "Recv: "), [r("anonymous.info")]);
  assert.deepEqual(only(kw, "Recv: "), [r("key_word"), r("a.key_word.b.c"), r("x.key_word")]);
  assert.deepEqual(only(all, "Recv: "), ["anonymous.info", ...keys].map(r));
});

// Seed 001 "RPC": FibonacciRpcClient gets fib(30) = 832040 back on its
// exclusive callback queue, matched by correlation_id.
test("seed 001: RPC fib(30)", async () => {
  const server = spawnPy(S("s001_rpc_server.py"), broker.url);
  await server.waitFor(" [x] Awaiting RPC requests");
  const out = await runPyOk(S("s001_rpc_client.py"), broker.url, [], { ms: 20_000 });
  assert.equal(out, " [x] Requesting fib(30)\n [.] Got 832040\n");
  await server.kill();
  assert.deepEqual(only(server, " [.]"), [" [.] fib(30)"]);
});
