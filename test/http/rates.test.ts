/**
 * Rate history in the management API: RabbitMQ 3.10's `samples` (with `avg`, `avg_rate`)
 * in `*_details` when a request asks for `lengths_age/_incr` or `msg_rates_age/_incr`, on
 * a queue and in the overview, and its answer to bad ranges. Checked against RabbitMQ
 * 3.10.8 (WARREN_TEST_URL / WARREN_TEST_MGMT_URL) as well as warren.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { TestBroker } from "../helpers/broker.js";
import { type Api, enc, eventually, startMgmtBroker, uniq } from "./helpers.js";

let b: TestBroker;
let api: Api;
let skip = false;
const V = `http-rates-${uniq()}`;
const v = enc(V);

before(async () => {
  const s = await startMgmtBroker();
  if (!s) {
    skip = true;
    return;
  }
  ({ b, api } = s);
  assert.equal((await api.put(`/api/vhosts/${v}`)).status, 201);
  await api.put(`/api/permissions/${v}/guest`, { configure: ".*", write: ".*", read: ".*" });
  assert.equal((await api.put(`/api/queues/${v}/hist`, { durable: false })).status, 201);
  for (let i = 0; i < 3; i++) {
    const r = await api.post(`/api/exchanges/${v}/amq.default/publish`, { routing_key: "hist", payload: `m${i}`, payload_encoding: "string", properties: {} });
    assert.equal(r.json.routed, true);
  }
});
after(async () => {
  if (skip) return;
  await api.del(`/api/vhosts/${v}`);
  await b.stop();
});

type Sample = { sample: number; timestamp: number };
function checkSeries(samples: Sample[], count: number, incrMs: number): void {
  assert.equal(samples.length, count);
  for (let i = 0; i < samples.length; i++) {
    assert.equal(samples[i]!.timestamp % incrMs, 0, "timestamps are aligned to incr");
    if (i) assert.equal(samples[i]!.timestamp, samples[i - 1]!.timestamp - incrMs, "newest first, one incr apart");
  }
  assert.ok(Math.abs(Date.now() - samples[0]!.timestamp) < incrMs + 10_000);
}

test("a queue's lengths and message_stats carry samples, avg and avg_rate when asked for", async (t) => {
  if (skip) return t.skip("no management API");
  const q = await eventually(async () => {
    const r = await api.get(`/api/queues/${v}/hist?lengths_age=60&lengths_incr=5&msg_rates_age=30&msg_rates_incr=10`);
    const d = r.json?.messages_details;
    // RabbitMQ's message_stats lag its queue lengths by a sample or so: wait for both
    return d?.samples?.[0]?.sample === 3 && r.json.message_stats?.publish_details?.samples?.[0]?.sample === 3 ? r.json : null;
  }, 20_000);
  checkSeries(q.messages_details.samples, 13, 5000);
  checkSeries(q.messages_ready_details.samples, 13, 5000);
  checkSeries(q.message_stats.publish_details.samples, 4, 10_000);
  for (const d of [q.messages_details, q.message_stats.publish_details]) {
    assert.equal(typeof d.rate, "number");
    assert.equal(typeof d.avg, "number");
    assert.equal(typeof d.avg_rate, "number");
    const mean = d.samples.reduce((s: number, x: Sample) => s + x.sample, 0) / d.samples.length;
    assert.ok(Math.abs(d.avg - mean) < 1e-9, "avg is the mean of the samples");
  }
  // without the parameters: rates only, as before
  const plain = await api.get(`/api/queues/${v}/hist`);
  assert.equal(plain.json.messages_details.samples, undefined);
});

test("the overview's queue_totals and message_stats carry samples too", async (t) => {
  if (skip) return t.skip("no management API");
  const o = await eventually(async () => {
    const r = await api.get("/api/overview?lengths_age=60&lengths_incr=5&msg_rates_age=60&msg_rates_incr=5");
    return r.json?.queue_totals?.messages_details?.samples && r.json.message_stats?.publish_details?.samples ? r.json : null;
  }, 20_000);
  checkSeries(o.queue_totals.messages_details.samples, 13, 5000);
  checkSeries(o.message_stats.publish_details.samples, 13, 5000);
});

test("bad ranges: non-integers are ignored, non-positive or over 500 steps are a 400", async (t) => {
  if (skip) return t.skip("no management API");
  const ignored = await api.get(`/api/queues/${v}/hist?lengths_age=abc&lengths_incr=5`);
  assert.equal(ignored.status, 200);
  assert.equal(ignored.json.messages_details?.samples, undefined);
  for (const q of ["lengths_age=501&lengths_incr=1", "lengths_age=60&lengths_incr=0", "msg_rates_age=-5&msg_rates_incr=5"]) {
    const r = await api.get(`/api/queues/${v}/hist?${q}`);
    assert.equal(r.status, 400, q);
    assert.equal(r.json.error, "bad_request");
    assert.match(r.json.reason, /^Invalid range parameters: age -?\d+, incr \d+$/);
  }
});
