/**
 * The definitions log is compacted into a snapshot of the live definitions, and nothing
 * durable is lost on the way. RabbitMQ behaviour pinned down: a durable queue, exchange or
 * binding that was declared (declare-ok) survives a broker crash, and one that was deleted
 * stays deleted, however many declare/delete cycles came before — RabbitMQ keeps its
 * definitions in Mnesia, whose log it also compacts; a restart does not replay history.
 * (Broker internals on real files and real child processes: cannot run against RabbitMQ.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Broker } from "../../../src/broker/broker.js";
import { command, COMMAND_FORMAT } from "../../../src/broker/commands.js";
import { Logger } from "../../../src/lib/logger.js";
import { DefinitionsLog, DEFINITIONS_FILE } from "../../../src/store/definitions-log.js";
import { logSink, tempDir } from "../store/helpers.js";
import { waitFor } from "../../helpers/wait.js";

const WRITER = fileURLToPath(new URL("./compaction-writer.js", import.meta.url));

function openBroker(dataDir: string, compaction?: { factor: number; minCommands: number }): { broker: Broker; defs: DefinitionsLog } {
  const defs = DefinitionsLog.open({ dataDir, log: logSink().log });
  const broker = new Broker({ store: null, definitions: defs, log: new Logger("error"), ...(compaction ? { compaction } : {}) });
  broker.boot();
  return { broker, defs };
}

const syncP = (b: Broker): Promise<void> => new Promise((resolve, reject) => b.syncDefinitions((e) => (e ? reject(e) : resolve())));

test("20,000 declare+delete cycles of a durable queue leave a bounded log that replays to the same definitions", async () => {
  const { dir, cleanup } = tempDir("compact-cycles");
  try {
    const { broker, defs } = openBroker(dir);
    const ctx = { origin: "amqp" } as const;
    const vhost = "/";
    broker.apply(command("exchange.declare", { vhost, name: "events", type: "topic", durable: true, autoDelete: false, internal: false, arguments: {} }), ctx);
    broker.apply(command("queue.declare", { vhost, name: "stays", durable: true, autoDelete: false, arguments: { "x-message-ttl": 60000 } }), ctx);
    broker.apply(command("bind", { vhost, source: "events", destination: "stays", destinationType: "queue", routingKey: "a.#", arguments: {} }), ctx);
    let maxCount = 0;
    for (let i = 0; i < 20_000; i++) {
      broker.apply(command("queue.declare", { vhost, name: "cycle", durable: true, autoDelete: false, arguments: {} }), ctx);
      broker.apply(command("bind", { vhost, source: "events", destination: "cycle", destinationType: "queue", routingKey: `k.${i}`, arguments: {} }), ctx);
      broker.apply(command("queue.delete", { vhost, name: "cycle" }), ctx);
      maxCount = Math.max(maxCount, defs.count);
      if (i % 2000 === 0) await syncP(broker);
    }
    await syncP(broker);
    const path = join(dir, DEFINITIONS_FILE);
    // 80,000 commands went in (declare, bind, unbind cascaded by the delete, delete): without
    // compaction the log would hold them all (about 7 MB)
    assert.ok(maxCount <= 4096 + 1, `the log held ${maxCount} commands at most`);
    assert.ok(fs.statSync(path).size < 512 * 1024, `log is ${fs.statSync(path).size} bytes`);
    // clean shutdown: what is left beyond the snapshot goes too
    broker.compactDefinitions();
    const live = broker.snapshot().length;
    assert.equal(defs.count, live);
    await defs.close();

    const again = openBroker(dir);
    const v = again.broker.getVhost(vhost);
    assert.deepEqual([...v.queues.keys()], ["stays"]);
    assert.equal(v.getQueue("stays").arguments["x-message-ttl"], 60000);
    assert.deepEqual(
      [...v.getExchange("events").bindings.values()].map((b) => [b.destination.name, b.routingKey]),
      [["stays", "a.#"]],
    );
    assert.ok(again.broker.users.has("guest"), "the default user came back from the snapshot");
    assert.equal(again.defs.count, live, "boot replayed the snapshot only");
    // every record carries the command format
    const first = fs.readFileSync(path, "utf8").split("\n")[0]!;
    assert.equal(JSON.parse(first.slice(9)).v, COMMAND_FORMAT);
    await again.defs.close();
  } finally {
    cleanup();
  }
});

test("a log written before compaction existed (records without a format) is replayed and compacted at boot", async () => {
  const { dir, cleanup } = tempDir("compact-legacy");
  try {
    const { defs } = openBroker(dir);
    // the shapes warren wrote before commands were typed: no `v`, exchange.declare spread its options
    defs.append({ op: "exchange.declare", vhost: "/", name: "old-x", type: "fanout", durable: true, autoDelete: false, internal: false, arguments: {} });
    for (let i = 0; i < 3000; i++) {
      defs.append({ op: "queue.declare", vhost: "/", name: "old-q", durable: true, autoDelete: false, arguments: {} });
      defs.append({ op: "queue.delete", vhost: "/", name: "old-q" });
    }
    defs.append({ op: "queue.declare", vhost: "/", name: "old-q", durable: true, autoDelete: false, arguments: { "x-max-length": 5 } });
    defs.append({ op: "bind", vhost: "/", source: "old-x", destination: "old-q", destinationType: "queue", routingKey: "", arguments: {} });
    await defs.close();
    const again = openBroker(dir);
    const v = again.broker.getVhost("/");
    assert.equal(v.getQueue("old-q").arguments["x-max-length"], 5);
    assert.equal(v.getExchange("old-x").bindings.size, 1);
    assert.equal(again.defs.count, again.broker.snapshot().length, "6,000 commands of history were compacted at boot");
    await again.defs.close();
  } finally {
    cleanup();
  }
});

test("a log record of a newer command format stops the boot with a clear error (nothing is dropped)", async () => {
  const { dir, cleanup } = tempDir("compact-newer");
  try {
    const { defs } = openBroker(dir);
    defs.append({ v: COMMAND_FORMAT + 1, op: "queue.declare", vhost: "/", name: "from-the-future", durable: true, autoDelete: false, arguments: {} });
    await defs.close();
    const d2 = DefinitionsLog.open({ dataDir: dir, log: logSink().log });
    const b2 = new Broker({ store: null, definitions: d2, log: new Logger("error") });
    assert.throws(() => b2.boot(), /command format 2 is newer than this warren understands \(1\); upgrade warren/);
    await d2.close();
    // the record is still there for the newer warren
    assert.match(fs.readFileSync(join(dir, DEFINITIONS_FILE), "utf8"), /from-the-future/);
  } finally {
    cleanup();
  }
});

interface Run {
  lines: string[];
  signal: NodeJS.Signals | null;
}

function runWriter(dataDir: string, killAfterMs: number | null, crash = ""): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER], {
      env: { ...process.env, WARREN_COMPACTION_DIR: dataDir, WARREN_COMPACTION_CRASH: crash },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let buf = "";
    let timer: NodeJS.Timeout | null = null;
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => {
      buf += d;
      if (killAfterMs !== null && timer === null && buf.includes("READY")) timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    });
    const guard = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("error", reject);
    child.on("close", (_code, signal) => {
      clearTimeout(guard);
      if (timer) clearTimeout(timer);
      const lines = buf.split("\n");
      lines.pop(); // a line cut by the kill does not count
      resolve({ lines, signal });
    });
  });
}

test("kill -9 at random moments and inside compaction: every durable declare and delete survives", { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir("compact-kill9");
  try {
    const mustHave = new Set<string>();
    const mustNot = new Set<string>();
    // the crash points inside compaction first (the k-th compaction of that run), then random kills
    const runs: [number | null, string][] = [
      [null, "before-sync:1"],
      [null, "after-sync:1"],
      [null, "before-sync:3"],
      [null, "after-sync:4"],
      ...Array.from({ length: 8 }, (): [number, string] => [20 + Math.floor(Math.random() * 250), ""]),
    ];
    let confirmed = 0;
    for (const [killAfter, crash] of runs) {
      const run = await runWriter(dir, killAfter, crash);
      assert.equal(run.signal, "SIGKILL", `writer (${crash || killAfter + " ms"}) ended by itself: ${run.lines.slice(-3).join(" | ")}`);
      assert.ok(run.lines[0] === "READY", `writer did not start: ${run.lines.join(" | ")}`);
      for (const line of run.lines) {
        const [tag, name] = line.split(" ");
        if (tag === "C") {
          mustHave.add(name!);
          confirmed++;
        } else if (tag === "d") {
          mustHave.delete(name!); // its deletion may be on disk without its "D"
        } else if (tag === "D") {
          mustNot.add(name!);
        } else if (tag === "E") {
          assert.fail(`writer: ${line}`);
        }
      }
      const { broker, defs } = openBroker(dir, { factor: 2, minCommands: 40 });
      const v = broker.getVhost("/");
      const keys = new Set([...v.getExchange("x").bindings.values()].map((b) => b.routingKey));
      for (const q of mustHave) {
        assert.ok(v.queues.has(q), `${q} was durable before the kill (${crash || killAfter + " ms"}) and is gone`);
        assert.equal(v.getQueue(q).arguments["x-max-length"], Number(q.slice(5)) + 1, `${q} came back with its arguments`);
        assert.ok(keys.has(q), `${q}'s binding was durable before the kill and is gone`);
      }
      for (const q of mustNot) assert.ok(!v.queues.has(q), `${q} was deleted durably and came back`);
      assert.ok(!fs.existsSync(join(dir, DEFINITIONS_FILE + ".tmp")), "an interrupted compaction's file is cleaned up at open");
      await defs.close();
    }
    assert.ok(confirmed > 20, `only ${confirmed} durable turns in all runs`);
  } finally {
    cleanup();
  }
});

test("a log that only grows (declares, no deletes) builds a snapshot only each time it doubles, not once per command", async () => {
  const { dir, cleanup } = tempDir("compact-growth");
  try {
    const { broker, defs } = openBroker(dir, { factor: 2, minCommands: 40 });
    let snapshots = 0;
    const snapshot = broker.snapshot.bind(broker);
    broker.snapshot = () => {
      snapshots++;
      return snapshot();
    };
    const ctx = { origin: "amqp" } as const;
    // a first generation of definitions, deleted: the log is compacted to the few left
    for (let i = 0; i < 100; i++) broker.apply(command("queue.declare", { vhost: "/", name: `old${i}`, durable: true, autoDelete: false, arguments: {} }), ctx);
    for (let i = 0; i < 100; i++) broker.apply(command("queue.delete", { vhost: "/", name: `old${i}` }), ctx);
    // then 4,000 new queues, as 10,000 agents enrolling after an earlier fleet's vhost was deleted
    snapshots = 0;
    for (let i = 0; i < 4000; i++) broker.apply(command("queue.declare", { vhost: "/", name: `q${i}`, durable: true, autoDelete: false, arguments: {} }), ctx);
    // thresholds at 40, then twice the live definitions: about log2(4000 / 40) snapshots (before the fix: one per command past 40, ~3,960)
    assert.ok(snapshots <= 20, `${snapshots} snapshots for 4,000 declares`);
    await syncP(broker);
    assert.equal(broker.getVhost("/").queues.size, 4000);
    await defs.close();
  } finally {
    cleanup();
  }
});

test("a clean shutdown of warren leaves the definitions log as a snapshot; the next start has the same definitions", { timeout: 60_000 }, async () => {
  const { startWarrenChild, connect, closeQuietly } = await import("../../durability/helpers.js");
  const { dir, cleanup } = tempDir("compact-shutdown");
  try {
    let w = await startWarrenChild(dir);
    try {
      let c = await connect(w.url);
      const ch = await c.createChannel();
      await ch.assertExchange("shut.x", "fanout", { durable: true });
      await ch.assertQueue("shut.q", { durable: true, arguments: { "x-max-length": 7 } });
      await ch.bindQueue("shut.q", "shut.x", "");
      for (let i = 0; i < 50; i++) {
        await ch.assertQueue("shut.tmp", { durable: true });
        await ch.deleteQueue("shut.tmp");
      }
      await closeQuietly(c);
      await w.stop();
      const records = fs
        .readFileSync(join(dir, DEFINITIONS_FILE), "utf8")
        .split("\n")
        .filter((l) => l !== "");
      // vhost, guest, its permission, the Fleet collector's user and permission (if any), exchange, queue, binding
      assert.ok(records.length <= 10, `${records.length} records after shutdown:\n${records.join("\n")}`);
      assert.ok(!records.some((l) => l.includes("shut.tmp")), "the 100 commands of shut.tmp's history are gone");
      w = await startWarrenChild(dir);
      c = await connect(w.url);
      const ch2 = await c.createChannel();
      assert.equal((await ch2.checkQueue("shut.q")).queue, "shut.q");
      await ch2.publish("shut.x", "", Buffer.from("routed through the replayed binding"));
      const got = (await waitFor("the message routed through the replayed binding", async () => await ch2.get("shut.q", { noAck: true }))).content.toString();
      assert.equal(got, "routed through the replayed binding");
      assert.equal((await ch2.assertQueue("shut.q", { durable: true, arguments: { "x-max-length": 7 } })).queue, "shut.q", "the argument came back with its type (an inequivalent one would be 406)");
      await closeQuietly(c);
    } finally {
      await w.kill(); // a no-op after a clean stop
    }
  } finally {
    cleanup();
  }
});
