/**
 * Crash test: kill -9 the broker (a child process) at random moments during a
 * confirmed publish + acking consume workload with real amqplib clients,
 * restart it on the same data directory, and check what came back.
 *
 * RabbitMQ behaviour pinned down: a publisher confirm (basic.ack) for a
 * persistent message routed to durable queues means the broker took
 * responsibility for it — it is delivered after a crash unless it was acked
 * (at least once: an ack in flight at the crash may be lost); recovered
 * messages that had been delivered but not acked carry redelivered=true;
 * a classic queue keeps publish order across a restart; a fanout copy is
 * independent per queue. Beyond RabbitMQ's documented promises, warren also
 * promises: nothing half-written is ever delivered (every body found is
 * intact) and a message seen gone after a restart never comes back.
 *
 * Bounded for CI: WARREN_CRASH_ROUNDS (default 20) rounds, each killing the
 * broker 250–1000 ms into the workload, and an overall time budget. Rounds
 * rotate the fsync policy (always, always, interval, none): all of them must
 * survive kill -9, because the OS keeps what was written.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { abandon, checkBody, closeQuietly, connect, makeBody, readAll, recoveryLine, removeDir, startWarrenChild, tempDir } from "./helpers.js";
import type { BrokerProcess } from "../helpers/broker.js";

const ROUNDS = Number(process.env.WARREN_CRASH_ROUNDS ?? 20);
const BUDGET_MS = Number(process.env.WARREN_CRASH_BUDGET_MS ?? 150_000);
const POLICIES = ["always", "always", "interval", "none"] as const;
const WINDOW = 256;
/** small segments (256 KiB) so that rollover and deletion of consumed segments happen under the kills */
const ENV = { WARREN_TEST_SEGMENT_BYTES: String(256 * 1024) };

/** stream number -> how it is published; queue -> the stream it receives */
const STREAMS = [
  { id: 1, exchange: "", routingKey: "crash.a" },
  { id: 2, exchange: "", routingKey: "crash.b" },
  { id: 3, exchange: "crash.fan", routingKey: "" },
] as const;
const QUEUES: Record<string, number> = { "crash.a": 1, "crash.b": 2, "crash.f1": 3, "crash.f2": 3 };

/** Per (queue, seq): U unconfirmed, C must be present, A ack sent (may or may not be present), G seen gone. */
type State = "U" | "C" | "A" | "G";

class QueueModel {
  readonly states = new Map<number, State>();
  readonly delivered = new Set<number>();
  constructor(
    readonly name: string,
    readonly stream: number,
  ) {}
}

interface Totals {
  published: number;
  confirmed: number;
  acked: number;
  redeliveredChecked: number;
  unconfirmedFound: number;
  ackLost: number;
}

async function declareTopology(url: string): Promise<void> {
  const c = await connect(url);
  try {
    const ch = await c.createChannel();
    for (const q of Object.keys(QUEUES)) await ch.assertQueue(q, { durable: true });
    await ch.assertExchange("crash.fan", "fanout", { durable: true });
    await ch.bindQueue("crash.f1", "crash.fan", "");
    await ch.bindQueue("crash.f2", "crash.fan", "");
    await ch.close();
  } finally {
    await closeQuietly(c);
  }
}

/**
 * After a restart: read every queue (without acking), check bodies, order,
 * presence of every confirmed message, redelivered flags, and that nothing seen
 * gone came back. Then fold what was found into the model.
 */
async function verify(url: string, models: QueueModel[], t: Totals, round: number): Promise<void> {
  const c = await connect(url);
  try {
    // the topology itself must have survived (passive declares throw if not)
    const ch = await c.createChannel();
    await ch.checkExchange("crash.fan");
    await ch.close();
    for (const m of models) {
      const msgs = await readAll(c, m.name);
      const present = new Set<number>();
      let last = 0;
      for (const msg of msgs) {
        const info = checkBody(msg.content); // throws on a torn/corrupt body
        assert.equal(info.stream, m.stream, `round ${round} ${m.name}: message of stream ${info.stream}`);
        const st = m.states.get(info.seq);
        assert.ok(st !== undefined, `round ${round} ${m.name}: seq ${info.seq} was never published`);
        assert.notEqual(st, "G", `round ${round} ${m.name}: seq ${info.seq} came back after it was gone`);
        assert.ok(info.seq > last, `round ${round} ${m.name}: order broken, ${info.seq} after ${last}`);
        assert.ok(!present.has(info.seq), `round ${round} ${m.name}: seq ${info.seq} twice`);
        last = info.seq;
        present.add(info.seq);
        if (m.delivered.has(info.seq)) {
          assert.equal(msg.fields.redelivered, true, `round ${round} ${m.name}: seq ${info.seq} was delivered before the crash but redelivered=false`);
          t.redeliveredChecked++;
        }
      }
      for (const [seq, st] of m.states) {
        if (st === "C") assert.ok(present.has(seq), `round ${round} ${m.name}: confirmed seq ${seq} lost (${present.size} present)`);
        if (present.has(seq)) {
          if (st === "U") t.unconfirmedFound++;
          if (st === "A") t.ackLost++;
          m.states.set(seq, "C"); // it survived a restart: it is on disk and must stay until acked
          m.delivered.add(seq); // readAll delivered it (and requeued it on close)
        } else if (st !== "G") {
          m.states.set(seq, "G");
        }
      }
    }
  } finally {
    await closeQuietly(c);
  }
}

/** Publish + consume until the broker dies under us. */
async function workload(url: string, models: QueueModel[], nextSeq: number[], t: Totals, broker: BrokerProcess, killAfterMs: number, round: number): Promise<void> {
  const byQueue = new Map(models.map((m) => [m.name, m]));
  const byStream = new Map<number, QueueModel[]>();
  for (const m of models) byStream.set(m.stream, [...(byStream.get(m.stream) ?? []), m]);
  const pubConn = await connect(url);
  const subConn = await connect(url);
  let dead = false;
  let failure: Error | null = null;
  const wakeups: (() => void)[] = [];
  const wake = () => {
    for (const w of wakeups.splice(0)) w();
  };
  const onDead = () => {
    dead = true;
    wake();
  };
  pubConn.on("close", onDead);
  subConn.on("close", onDead);

  // consumer: checks order and bodies live, acks after a random short delay so
  // that some deliveries are always unacked when the kill comes
  const sub = await subConn.createChannel();
  sub.on("error", () => {});
  await sub.prefetch(100);
  const lastSeen = new Map<string, number>();
  for (const name of Object.keys(QUEUES)) {
    await sub.consume(name, (msg) => {
      if (msg === null || dead) return;
      try {
        const m = byQueue.get(name)!;
        const info = checkBody(msg.content);
        assert.equal(info.stream, m.stream);
        const st = m.states.get(info.seq);
        assert.ok(st !== undefined && st !== "G", `round ${round} ${name}: live delivery of ${st === "G" ? "gone" : "unknown"} seq ${info.seq}`);
        assert.ok(info.seq > (lastSeen.get(name) ?? 0), `round ${round} ${name}: live order broken, ${info.seq} after ${lastSeen.get(name)}`);
        lastSeen.set(name, info.seq);
        m.delivered.add(info.seq);
        setTimeout(
          () => {
            if (dead) return;
            try {
              sub.ack(msg);
              m.states.set(info.seq, "A");
              t.acked++;
            } catch {
              /* channel gone with the broker: the ack was never sent */
            }
          },
          Math.floor(Math.random() * 15),
        );
      } catch (e) {
        failure ??= e as Error;
      }
    });
  }

  // from the kill on, nothing more is sent: acks issued later would never reach the broker anyway
  const killer = setTimeout(() => {
    onDead();
    void broker.kill();
  }, killAfterMs);
  let outstanding = 0;
  let k = 0;
  try {
    // the kill may come before the channel is open (a loaded machine): then nothing is published
    const pub = await pubConn.createConfirmChannel().catch((e: Error) => {
      if (dead) return null;
      throw e;
    });
    pub?.on("error", () => {});
    while (!dead && pub !== null) {
      if (outstanding >= WINDOW) {
        await new Promise<void>((r) => wakeups.push(r));
        continue;
      }
      const s = STREAMS[k++ % STREAMS.length]!;
      const seq = ++nextSeq[s.id]!;
      const targets = byStream.get(s.id)!;
      for (const m of targets) m.states.set(seq, "U");
      const body = makeBody(s.id, seq, Math.floor(Math.random() * 3000));
      outstanding++;
      t.published++;
      let ok: boolean;
      try {
        ok = pub.publish(s.exchange, s.routingKey, body, { persistent: true }, (err) => {
          outstanding--;
          if (!err) {
            t.confirmed++;
            for (const m of targets) if (m.states.get(seq) === "U") m.states.set(seq, "C");
          }
          wake();
        });
      } catch {
        break; // channel closed under us
      }
      if (!ok)
        await new Promise<void>((r) => {
          pub.once("drain", r);
          wakeups.push(r);
        });
    }
  } finally {
    clearTimeout(killer);
    await broker.kill();
    await abandon(pubConn);
    await abandon(subConn);
  }
  if (failure) throw failure;
}

test(`kill -9 during confirmed publish + consume, ${ROUNDS} rounds: nothing confirmed is lost, nothing corrupt, order kept`, { timeout: BUDGET_MS + 60_000 }, async () => {
  const dir = tempDir("warren-crash-");
  const models = Object.entries(QUEUES).map(([name, stream]) => new QueueModel(name, stream));
  const nextSeq = [0, 0, 0, 0];
  const t: Totals = { published: 0, confirmed: 0, acked: 0, redeliveredChecked: 0, unconfirmedFound: 0, ackLost: 0 };
  const started = Date.now();
  let broker: BrokerProcess | null = null;
  let rounds = 0;
  try {
    broker = await startWarrenChild(dir, ["--fsync", POLICIES[0]], ENV);
    await declareTopology(broker.url);
    for (let round = 1; round <= ROUNDS; round++) {
      const killAfter = 250 + Math.floor(Math.random() * 750);
      await workload(broker.url, models, nextSeq, t, broker, killAfter, round);
      const policy = POLICIES[round % POLICIES.length]!;
      broker = await startWarrenChild(dir, ["--fsync", policy], ENV);
      const rec = recoveryLine(broker.stderr());
      assert.ok(rec !== null, `round ${round}: no recovery line in the log:\n${broker.stderr()}`);
      assert.equal(rec.queues, 4, `round ${round}: recovered ${rec.queues} durable queues`);
      if (process.env.WARREN_CRASH_VERBOSE) process.stderr.write(`round ${round} (killed after ${killAfter} ms, now fsync ${policy}):\n${broker.stderr()}`);
      await verify(broker.url, models, t, round);
      rounds = round;
      if (Date.now() - started > BUDGET_MS) break;
    }
    // whatever is left must drain cleanly on a healthy broker
    await broker.stop();
    broker = null;
    process.stderr.write(
      `crash test: ${rounds} kill -9 rounds in ${((Date.now() - started) / 1000).toFixed(1)} s; published ${t.published}, confirmed ${t.confirmed}, ` +
        `acks sent ${t.acked}; after restarts: ${t.redeliveredChecked} redelivered flags checked, ${t.unconfirmedFound} unconfirmed found intact, ${t.ackLost} acks lost in flight\n`,
    );
    assert.ok(rounds >= Math.min(ROUNDS, 5), `only ${rounds} rounds fit in the time budget`);
    assert.ok(t.confirmed > rounds * 100, `too few confirms (${t.confirmed}) for the test to mean anything`);
    assert.ok(t.redeliveredChecked > 0, "no delivered-but-unacked message was ever checked after a crash");
  } finally {
    await broker?.kill();
    removeDir(dir);
  }
});
