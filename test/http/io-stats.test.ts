/**
 * Counters RabbitMQ's management API has and tools read: the node's message_stats.disk_writes /
 * disk_reads (messages the store wrote, bodies it read back), a connection's send_cnt (socket
 * writes) and a channel's idle_since (RabbitMQ's timestamp format, 2026-12-01T23:54:44.567+00:00).
 * Runs against RabbitMQ too (its stats database lags a few seconds: the reads poll, bounded).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { startBroker, type TestBroker } from "../helpers/broker.js";
import { Api } from "./helpers.js";

let b: TestBroker;
let api: Api;
before(async () => {
  b = await startBroker({ mgmt: true });
  if (b.mgmtUrl === undefined) throw new Error("needs the management API (WARREN_TEST_MGMT_URL)");
  api = new Api(b.mgmtUrl);
});
after(async () => {
  await b.stop();
});

async function poll<T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

test("disk_writes counts persisted messages; send_cnt and idle_since describe connections and channels", async () => {
  const stats = async () => ((await api.get("/api/overview")).json as { message_stats?: Record<string, number> }).message_stats ?? {};
  const before = (await stats())["disk_writes"] ?? 0;
  const conn = await amqp.connect(b.url, { clientProperties: { connection_name: "io-stats" } });
  try {
    const ch = await conn.createConfirmChannel();
    const q = `io-stats-${process.pid}`;
    await ch.assertQueue(q, { durable: true });
    for (let i = 0; i < 50; i++) ch.sendToQueue(q, Buffer.alloc(100), { persistent: true });
    await ch.waitForConfirms();
    const after = await poll(stats, (s) => (s["disk_writes"] ?? 0) >= before + 50);
    assert.ok((after["disk_writes"] ?? 0) >= before + 50, `disk_writes ${after["disk_writes"]} after 50 persistent messages (was ${before})`);
    assert.equal(typeof after["disk_reads"], "number");
    await ch.deleteQueue(q);

    const conns = await poll(
      async () => (await api.get("/api/connections")).json as Record<string, unknown>[],
      (l) => l.some((c) => (c["client_properties"] as Record<string, unknown>)?.["connection_name"] === "io-stats" && Number(c["send_cnt"]) > 0),
    );
    const mine = conns.find((c) => (c["client_properties"] as Record<string, unknown>)?.["connection_name"] === "io-stats")!;
    assert.ok(Number(mine["send_cnt"]) > 0, `send_cnt ${mine["send_cnt"]}`);
    const chans = await poll(
      async () => (await api.get(`/api/connections/${encodeURIComponent(String(mine["name"]))}/channels`)).json as Record<string, unknown>[],
      (l) => l.length > 0 && typeof l[0]!["idle_since"] === "string",
    );
    assert.ok(chans.length > 0);
    assert.match(String(chans[0]!["idle_since"]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$/);
  } finally {
    await conn.close();
  }
});
