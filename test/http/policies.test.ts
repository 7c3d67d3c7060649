/**
 * Policies applied to queues and exchanges, set through the management API
 * (PUT /api/policies/{vhost}/{name}) and observed with a real AMQP client.
 * Pins RabbitMQ's rules: a policy's message-ttl / max-length / dead-letter-exchange
 * take effect on matching queues (existing and new), the smaller of policy and
 * x-argument limits wins, clearing the policy removes its effect, and
 * alternate-exchange can come from a policy.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { type Api, amqpUrl, enc, eventually, startMgmtBroker, uniq } from "./helpers.js";
import type { TestBroker } from "../helpers/broker.js";
import { waitFor } from "../helpers/wait.js";

let b: TestBroker | null = null;
let api: Api;
let vhost: string;
let conn: amqp.ChannelModel;

before(async () => {
  const s = await startMgmtBroker();
  if (!s) return;
  b = s.b;
  api = s.api;
  vhost = `pol-${uniq()}`;
  assert.equal((await api.put(`/api/vhosts/${enc(vhost)}`)).status, 201);
  await api.put(`/api/permissions/${enc(vhost)}/guest`, { configure: ".*", write: ".*", read: ".*" });
  conn = await amqp.connect(amqpUrl(b, "guest", "guest", vhost));
});

after(async () => {
  if (!b) return;
  await conn.close().catch(() => {});
  await api.del(`/api/vhosts/${enc(vhost)}`);
  await b.stop();
});

async function count(ch: amqp.Channel, q: string): Promise<number> {
  return (await ch.checkQueue(q)).messageCount;
}

test("a policy's max-length applies to an existing queue, the smaller limit wins, and clearing removes it", async (t) => {
  if (!b) return t.skip("no management API");
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue("pol.len.a", { durable: false });
  await ch.assertQueue("pol.len.b", { durable: false, arguments: { "x-max-length": 2 } });
  assert.equal((await api.put(`/api/policies/${enc(vhost)}/limit`, { pattern: "^pol\\.len\\.", definition: { "max-length": 3 }, "apply-to": "queues" })).status, 201);
  for (let i = 0; i < 6; i++) {
    ch.sendToQueue("pol.len.a", Buffer.from(String(i)));
    ch.sendToQueue("pol.len.b", Buffer.from(String(i)));
  }
  // confirmed = enqueued (or dropped from the head) in both brokers; then the counts are final
  await ch.waitForConfirms();
  // RabbitMQ may apply the new policy after the publishes: it then trims the queue, so wait for it
  await waitFor("policy max-length 3 (and x-max-length 2, smaller than the policy's 3)", async () => (await count(ch, "pol.len.a")) === 3 && (await count(ch, "pol.len.b")) === 2);
  const m = await ch.get("pol.len.a", { noAck: true });
  assert.ok(m && m.content.toString() === "3", "drop-head kept the newest three");
  assert.equal((await api.del(`/api/policies/${enc(vhost)}/limit`)).status, 204);
  for (let i = 0; i < 5; i++) ch.sendToQueue("pol.len.a", Buffer.from("x"));
  await ch.waitForConfirms();
  await waitFor("no limit once the policy is cleared: 7 messages", async () => (await count(ch, "pol.len.a")) === 7);
  await ch.close();
});

test("policy message-ttl and dead-letter-exchange: expired messages are dead-lettered", async (t) => {
  if (!b) return t.skip("no management API");
  const ch = await conn.createChannel();
  await ch.assertExchange("pol.dlx", "fanout", { durable: false });
  const dead = await ch.assertQueue("pol.dead", { durable: false });
  await ch.bindQueue(dead.queue, "pol.dlx", "");
  assert.equal(
    (await api.put(`/api/policies/${enc(vhost)}/ttl`, { pattern: "^pol\\.ttl$", definition: { "message-ttl": 100, "dead-letter-exchange": "pol.dlx" }, "apply-to": "queues", priority: 1 })).status,
    201,
  );
  await ch.assertQueue("pol.ttl", { durable: false });
  ch.sendToQueue("pol.ttl", Buffer.from("expire me"));
  const got = await waitFor("dead-lettered after the policy's TTL", () => ch.get("pol.dead", { noAck: true }), 4000, 100);
  assert.equal(got.content.toString(), "expire me");
  const death = (got.properties.headers!["x-death"] as unknown as Array<Record<string, unknown>>)[0]!;
  assert.equal(death["reason"], "expired");
  assert.equal(death["queue"], "pol.ttl");
  // RabbitMQ fills in queue details with its periodic stats emission: poll
  const policy = await eventually(async () => (await api.get(`/api/queues/${enc(vhost)}/pol.ttl`)).json?.policy);
  assert.equal(policy, "ttl", "the queue reports the policy in effect");
  await api.del(`/api/policies/${enc(vhost)}/ttl`);
  await ch.close();
});

test("alternate-exchange from a policy catches unroutable messages", async (t) => {
  if (!b) return t.skip("no management API");
  const ch = await conn.createChannel();
  await ch.assertExchange("pol.ae", "fanout", { durable: false });
  const caught = await ch.assertQueue("pol.caught", { durable: false });
  await ch.bindQueue(caught.queue, "pol.ae", "");
  await api.put(`/api/policies/${enc(vhost)}/ae`, { pattern: "^pol\\.main$", definition: { "alternate-exchange": "pol.ae" }, "apply-to": "exchanges" });
  await ch.assertExchange("pol.main", "direct", { durable: false });
  ch.publish("pol.main", "nowhere", Buffer.from("stray"));
  const got = await waitFor("the unroutable message in the alternate exchange's queue", () => ch.get("pol.caught", { noAck: true }), 3000, 100);
  assert.equal(got.content.toString(), "stray");
  await api.del(`/api/policies/${enc(vhost)}/ae`);
  await ch.close();
});
