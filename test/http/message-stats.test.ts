/**
 * message_stats split the way RabbitMQ 3.10 splits them: on a channel `deliver`/`get` are the
 * manual-ack ones and `deliver_no_ack`/`get_no_ack` the automatic-ack ones, `get_empty` counts
 * basic.get on an empty queue (also on the queue), `drop_unroutable` unroutable non-mandatory
 * publishes, and a vhost counts the confirms sent to its publishers. Passes against RabbitMQ
 * 3.10.8 (WARREN_TEST_URL + WARREN_TEST_MGMT_URL), which fills its stats in within 5 s.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import type { TestBroker } from "../helpers/broker.js";
import { type Api, amqpUrl, enc, eventually, startMgmtBroker, uniq } from "./helpers.js";

let b: TestBroker;
let api: Api;
let skip = false;
const V = `mstats-${uniq()}`;

before(async () => {
  const s = await startMgmtBroker();
  if (!s) {
    skip = true;
    return;
  }
  ({ b, api } = s);
  await api.put(`/api/vhosts/${enc(V)}`);
  await api.put(`/api/permissions/${enc(V)}/guest`, { configure: ".*", write: ".*", read: ".*" });
});

after(async () => {
  if (skip) return;
  await api.del(`/api/vhosts/${enc(V)}`);
  await b.stop();
});

test("channel, queue and vhost message_stats: ack-mode split, get_empty, drop_unroutable, confirm", async (t) => {
  if (skip) return t.skip("no management URL");
  const conn = await amqp.connect(amqpUrl(b, "guest", "guest", V));
  try {
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue("q", { durable: false });
    await ch.assertQueue("empty", { durable: false });
    await ch.assertExchange("x", "direct", { durable: false });
    for (let i = 0; i < 3; i++) ch.sendToQueue("q", Buffer.from(`m${i}`));
    ch.publish("x", "nowhere", Buffer.from("dropped"));
    await ch.waitForConfirms();
    const m = await ch.get("q", { noAck: false });
    assert.ok(m);
    ch.ack(m);
    assert.ok(await ch.get("q", { noAck: true }));
    assert.equal(await ch.get("empty"), false);
    let got = 0;
    await ch.consume("q", () => void got++, { noAck: true });
    await eventually(async () => got === 1 || undefined);
    const stats = await eventually(async () => {
      const list = (await api.get(`/api/channels`)).json as { vhost: string; message_stats?: Record<string, number> }[];
      const s = list.find((c) => c.vhost === V)?.message_stats;
      // RabbitMQ fills the publish-side counters in separately from the delivery side
      return s && s["deliver_no_ack"] === 1 && s["get_empty"] === 1 && s["publish"] === 4 && s["confirm"] === 4 ? s : undefined;
    }, 20_000);
    assert.equal(stats["publish"], 4);
    assert.equal(stats["get"], 1, "manual-ack get");
    assert.equal(stats["get_no_ack"], 1);
    assert.equal(stats["deliver"], 0, "manual-ack deliveries");
    assert.equal(stats["deliver_no_ack"], 1);
    assert.equal(stats["deliver_get"], 3);
    assert.equal(stats["drop_unroutable"], 1);
    assert.equal(stats["confirm"], 4);
    const q = await eventually(async () => (await api.get(`/api/queues/${enc(V)}/empty`)).json?.message_stats?.get_empty === 1 || undefined, 20_000);
    assert.ok(q);
    const v = await eventually(async () => {
      const ms = (await api.get(`/api/vhosts/${enc(V)}`)).json?.message_stats;
      return ms?.confirm === 4 ? ms : undefined;
    }, 20_000);
    assert.equal(v.drop_unroutable, 1);
  } finally {
    await conn.close();
  }
});
