/**
 * The management API against RabbitMQ's documented shapes and status codes.
 * Every expectation here was first checked against RabbitMQ 3.10.8 (run with
 * WARREN_TEST_URL=amqp://guest:guest@127.0.0.1:5672/%2F
 * WARREN_TEST_MGMT_URL=http://guest:guest@127.0.0.1:15672).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import type { TestBroker } from "../helpers/broker.js";
import { type Api, amqpUrl, enc, eventually, missingKeys, startMgmtBroker, uniq } from "./helpers.js";
import { waitFor } from "../helpers/wait.js";

let b: TestBroker;
let api: Api;
let skip = false;
const id = uniq();
const V = `http-api-${id}`;
const v = enc(V);

before(async () => {
  const s = await startMgmtBroker();
  if (!s) {
    skip = true;
    return;
  }
  b = s.b;
  api = s.api;
  assert.equal((await api.put(`/api/vhosts/${v}`)).status, 201);
  // RabbitMQ grants the user who creates a vhost full permissions in it: this PUT updates them
  assert.equal((await api.put(`/api/permissions/${v}/guest`, { configure: ".*", write: ".*", read: ".*" })).status, 204);
});

after(async () => {
  if (skip) return;
  for (const u of [`mgmt-${id}`, `mon-${id}`, `none-${id}`, `adm-${id}`]) await api.del(`/api/users/${u}`);
  await api.del(`/api/vhosts/${v}`);
  await b.stop();
});

test("overview, whoami and nodes have RabbitMQ's keys", async (t) => {
  if (skip) return t.skip("no management URL");
  // the keys tools (rabbitmqadmin, monitoring scripts) read from /api/overview
  const o = await api.get("/api/overview");
  assert.equal(o.status, 200);
  assert.deepEqual(
    missingKeys(o.json, [
      "management_version",
      "rates_mode",
      "exchange_types",
      "product_version",
      "product_name",
      "rabbitmq_version",
      "cluster_name",
      "message_stats",
      "queue_totals",
      "object_totals",
      "node",
      "listeners",
    ]),
    [],
  );
  assert.deepEqual(missingKeys(o.json.object_totals, ["channels", "connections", "consumers", "exchanges", "queues"]), []);
  assert.deepEqual(missingKeys(o.json.queue_totals, ["messages", "messages_ready", "messages_unacknowledged"]), []);
  assert.deepEqual((await api.get("/api/whoami")).json, { name: "guest", tags: ["administrator"] });
  const n = await api.get("/api/nodes");
  assert.equal(n.status, 200);
  assert.deepEqual(missingKeys(n.json[0], ["name", "type", "running", "mem_used", "mem_limit", "mem_alarm", "disk_free", "disk_free_alarm", "fd_used", "uptime", "partitions"]), []);
  // RabbitMQ: aliveness test declares a queue, round-trips a message, answers {"status":"ok"}
  assert.deepEqual((await api.get(`/api/aliveness-test/${v}`)).json, { status: "ok" });
  assert.deepEqual((await api.get("/api/health/checks/alarms")).json, { status: "ok" });
});

test("authentication and tags: 401 with RabbitMQ's reasons", async (t) => {
  if (skip) return t.skip("no management URL");
  // no credentials / wrong password: 401 (RabbitMQ spells the latter 'not_authorized')
  assert.equal((await api.req("GET", "/api/overview", undefined, { authorization: "" })).status, 401);
  const bad = await api.as("guest", "wrong").get("/api/overview");
  assert.equal(bad.status, 401);
  assert.equal(bad.json.reason, "Login failed");
  // users: created through the API; tags as a comma-separated string
  assert.equal((await api.put(`/api/users/none-${id}`, { password: "pw1", tags: "" })).status, 201);
  assert.equal((await api.put(`/api/users/mgmt-${id}`, { password: "pw2", tags: "management" })).status, 201);
  assert.equal((await api.put(`/api/users/mon-${id}`, { password: "pw3", tags: "monitoring" })).status, 201);
  assert.equal((await api.put(`/api/users/mgmt-${id}`, { password: "pw2", tags: "management" })).status, 204);
  assert.equal((await api.put(`/api/permissions/${v}/mgmt-${id}`, { configure: ".*", write: ".*", read: ".*" })).status, 201);
  const none = await api.as(`none-${id}`, "pw1").get("/api/overview");
  assert.equal(none.status, 401);
  assert.deepEqual(none.json, { error: "not_authorised", reason: "Not management user" });
  const mgmt = api.as(`mgmt-${id}`, "pw2");
  assert.deepEqual((await mgmt.get("/api/users")).json, { error: "not_authorised", reason: "Not administrator user" });
  assert.deepEqual((await mgmt.get("/api/nodes")).json, { error: "not_authorised", reason: "Not monitor user" });
  assert.deepEqual((await mgmt.get("/api/queues/%2F")).json, { error: "not_authorised", reason: "User not authorised to access virtual host" });
  assert.equal((await mgmt.get(`/api/queues/${v}`)).status, 200);
  // a management user sees only the vhosts it has permissions in
  assert.deepEqual(
    (await mgmt.get("/api/vhosts")).json.map((x: { name: string }) => x.name),
    [V],
  );
  assert.equal((await mgmt.put(`/api/vhosts/x-${id}`)).status, 401);
  assert.equal((await mgmt.get("/api/definitions")).status, 401);
  // monitoring: every vhost, node data, but not users
  const mon = api.as(`mon-${id}`, "pw3");
  assert.ok((await mon.get("/api/vhosts")).json.some((x: { name: string }) => x.name === V));
  assert.equal((await mon.get("/api/nodes")).status, 200);
  assert.equal((await mon.get("/api/users")).status, 401);
  // user shape, and PUT validation: unknown vhost/user is 400
  const u = await api.get(`/api/users/mgmt-${id}`);
  assert.deepEqual(Object.keys(u.json).sort(), ["hashing_algorithm", "limits", "name", "password_hash", "tags"]);
  assert.deepEqual(u.json.tags, ["management"]);
  const p = await api.put(`/api/permissions/no-such-vhost-${id}/mgmt-${id}`, { configure: ".*", write: ".*", read: ".*" });
  assert.equal(p.status, 400);
  assert.equal(p.json.reason, "vhost_or_user_not_found");
  assert.equal((await api.get(`/api/users/nobody-${id}`)).status, 404);
});

test("queues, exchanges, bindings: declare, list, codes", async (t) => {
  if (skip) return t.skip("no management URL");
  const q = `q-${id}`;
  const x = `x-${id}`;
  // 201 created, 204 when it already exists (equivalent)
  assert.equal((await api.put(`/api/queues/${v}/${q}`, { durable: true, arguments: { "x-max-length": 10 } })).status, 201);
  assert.equal((await api.put(`/api/queues/${v}/${q}`, { durable: true, arguments: { "x-max-length": 10 } })).status, 204);
  const ineq = await api.put(`/api/queues/${v}/${q}`, { durable: false });
  assert.equal(ineq.status, 400);
  assert.match(ineq.json.reason, /inequivalent arg 'durable' for queue/);
  // reserved names are refused as access (401 "Access refused.")
  assert.equal((await api.put(`/api/queues/${v}/amq.${id}`, { durable: true })).status, 401);
  assert.equal((await api.put(`/api/exchanges/${v}/${x}`, { type: "topic", durable: true })).status, 201);
  assert.equal((await api.put(`/api/exchanges/${v}/${x}`, { type: "topic", durable: true })).status, 204);
  const badType = await api.put(`/api/exchanges/${v}/bad-${id}`, { type: "bogus" });
  assert.deepEqual([badType.status, badType.json.reason], [400, "unknown exchange type 'bogus'"]);
  assert.deepEqual((await api.req("PUT", `/api/exchanges/${v}/bad-${id}`, "{bad")).json, { error: "bad_request", reason: "not_json" });
  assert.equal((await api.get(`/api/queues/${v}/nope-${id}`)).status, 404);
  assert.deepEqual((await api.get(`/api/queues/${v}/nope-${id}`)).json, { error: "Object Not Found", reason: "Not Found" });
  assert.equal((await api.del(`/api/queues/${v}/nope-${id}`)).status, 404);
  assert.equal((await api.del(`/api/exchanges/${v}/nope-${id}`)).status, 404);
  assert.equal((await api.req("POST", "/api/overview")).status, 405);

  const mine = await eventually(async () => {
    const e = ((await api.get(`/api/queues/${v}`)).json as any[]).find((e) => e.name === q);
    return e && "messages" in e ? e : undefined;
  });
  assert.deepEqual(
    missingKeys(mine, [
      "name",
      "vhost",
      "durable",
      "auto_delete",
      "exclusive",
      "arguments",
      "node",
      "state",
      "type",
      "consumers",
      "messages",
      "messages_ready",
      "messages_unacknowledged",
      "messages_details",
    ]),
    [],
  );
  assert.deepEqual(mine.arguments, { "x-max-length": 10 });
  const xs = await api.get(`/api/exchanges/${v}`);
  // the default exchange is listed with name "" and every vhost has the amq.* ones
  assert.ok(xs.json.some((e: { name: string }) => e.name === ""));
  assert.ok(xs.json.some((e: { name: string; type: string }) => e.name === "amq.topic" && e.type === "topic"));
  assert.deepEqual(
    missingKeys(
      xs.json.find((e: { name: string }) => e.name === x),
      ["name", "vhost", "type", "durable", "auto_delete", "internal", "arguments"],
    ),
    [],
  );
  // columns= filters keys, as rabbitmqadmin uses it
  assert.deepEqual(
    (await api.get(`/api/queues/${v}/?columns=name,durable`)).json.find((e: { name: string }) => e.name === q),
    { name: q, durable: true },
  );

  // bindings: Location header "dest/props", then list/delete by properties key
  const bind = await api.post(`/api/bindings/${v}/e/${x}/q/${q}`, { routing_key: "a.b", arguments: {} });
  assert.equal(bind.status, 201);
  assert.equal(bind.headers.get("location"), `${q}/a.b`);
  const between = await api.get(`/api/bindings/${v}/e/${x}/q/${q}`);
  assert.deepEqual(between.json, [{ source: x, vhost: V, destination: q, destination_type: "queue", routing_key: "a.b", arguments: {}, properties_key: "a.b" }]);
  const all = await api.get(`/api/bindings/${v}`);
  // the default exchange's implicit binding is listed too
  assert.ok(all.json.some((e: { source: string; destination: string }) => e.source === "" && e.destination === q));
  assert.equal((await api.post(`/api/bindings/${v}/e/${x}/q/nope-${id}`, { routing_key: "k" })).status, 404);

  // publish: routed true/false; the default exchange is "amq.default" in paths
  assert.deepEqual(
    (await api.post(`/api/exchanges/${v}/${x}/publish`, { routing_key: "a.b", payload: "hello", payload_encoding: "string", properties: { delivery_mode: 2, headers: { h: 1 } } })).json,
    { routed: true },
  );
  assert.deepEqual((await api.post(`/api/exchanges/${v}/${x}/publish`, { routing_key: "zz", payload: "x", payload_encoding: "string", properties: {} })).json, { routed: false });
  assert.deepEqual(
    (await api.post(`/api/exchanges/${v}/amq.default/publish`, { routing_key: q, payload: Buffer.from([0xff, 0]).toString("base64"), payload_encoding: "base64", properties: {} })).json,
    { routed: true },
  );

  // get with requeue: same message again, now redelivered
  const g1 = await api.post(`/api/queues/${v}/${q}/get`, { count: 1, ackmode: "ack_requeue_true", encoding: "auto" });
  assert.equal(g1.status, 200);
  assert.deepEqual(g1.json, [
    { payload_bytes: 5, redelivered: false, exchange: x, routing_key: "a.b", message_count: 1, properties: { delivery_mode: 2, headers: { h: 1 } }, payload: "hello", payload_encoding: "string" },
  ]);
  const g2 = await api.post(`/api/queues/${v}/${q}/get`, { count: 5, ackmode: "ack_requeue_false", encoding: "auto" });
  assert.equal(g2.json.length, 2);
  assert.equal(g2.json[0].redelivered, true);
  assert.equal(g2.json[0].message_count, 1);
  // binary payloads come back base64 under encoding "auto"
  assert.deepEqual([g2.json[1].payload, g2.json[1].payload_encoding, g2.json[1].message_count], [Buffer.from([0xff, 0]).toString("base64"), "base64", 0]);
  assert.deepEqual((await api.post(`/api/queues/${v}/${q}/get`, { count: 1, ackmode: "ack_requeue_false", encoding: "auto" })).json, []);

  // purge via DELETE …/contents
  await api.post(`/api/exchanges/${v}/amq.default/publish`, { routing_key: q, payload: "p", payload_encoding: "string", properties: {} });
  assert.equal((await api.del(`/api/queues/${v}/${q}/contents`)).status, 204);
  const after = await api.get(`/api/queues/${v}/${q}`);
  assert.equal(after.json.messages_ready ?? 0, 0);

  assert.equal((await api.del(`/api/bindings/${v}/e/${x}/q/${q}/a.b`)).status, 204);
  assert.equal((await api.del(`/api/bindings/${v}/e/${x}/q/${q}/a.b`)).status, 404);
  assert.equal((await api.del(`/api/exchanges/${v}/${x}`)).status, 204);
  assert.equal((await api.del(`/api/queues/${v}/${q}`)).status, 204);
});

test("connections, channels and consumers are listed and closable", async (t) => {
  if (skip) return t.skip("no management URL");
  const conn = await amqp.connect(amqpUrl(b, "guest", "guest", V), { clientProperties: { connection_name: `conn-${id}` } });
  const closed = new Promise<Error | undefined>((r) => conn.on("close", r));
  conn.on("error", () => {});
  const ch = await conn.createChannel();
  const { queue } = await ch.assertQueue("", { exclusive: true });
  await ch.consume(queue, () => {}, { consumerTag: `ctag-${id}` });
  // RabbitMQ's stats are emitted asynchronously: poll briefly
  const c: any = await waitFor("the connection listed", async () => ((await api.get(`/api/vhosts/${v}/connections`)).json as any[]).find((x) => x.vhost === V && "channels" in x), 10_000, 100);
  assert.deepEqual(missingKeys(c, ["name", "user", "vhost", "peer_host", "peer_port", "state", "channels", "protocol", "client_properties", "recv_oct", "send_oct"]), []);
  assert.equal(c.user, "guest");
  // the name the client gave itself (client property connection_name), as RabbitMQ lists it
  assert.equal(c.user_provided_name, `conn-${id}`);
  const consumers: any[] = await waitFor(
    "the consumer listed",
    async () => {
      const l = ((await api.get(`/api/consumers/${v}`)).json as any[]).filter((x) => x.consumer_tag === `ctag-${id}`);
      return l.length > 0 ? l : undefined;
    },
    10_000,
    100,
  );
  assert.equal(consumers.length, 1);
  assert.deepEqual(missingKeys(consumers[0], ["consumer_tag", "channel_details", "queue", "ack_required", "exclusive", "prefetch_count", "arguments"]), []);
  assert.equal(consumers[0].queue.name, queue);
  const chans = await eventually(async () => {
    const l = ((await api.get("/api/channels")).json as any[]).filter((x) => x.vhost === V && "consumer_count" in x);
    return l.length > 0 ? l : undefined;
  });
  assert.deepEqual(missingKeys(chans[0], ["name", "number", "user", "vhost", "connection_details", "consumer_count", "messages_unacknowledged", "prefetch_count"]), []);
  // DELETE closes it with CONNECTION_FORCED and the X-Reason text
  const del = await api.req("DELETE", `/api/connections/${enc(c.name)}`, undefined, { "x-reason": "bye from test" });
  assert.equal(del.status, 204);
  const err = await closed;
  assert.match(String(err?.message), /CONNECTION_FORCED - bye from test/);
  assert.equal((await api.del(`/api/connections/${enc("no such connection")}`)).status, 404);
});

test("per-vhost definitions export", async (t) => {
  if (skip) return t.skip("no management URL");
  await api.put(`/api/queues/${v}/d-${id}`, { durable: true });
  const d = await api.get(`/api/definitions/${v}`);
  assert.equal(d.status, 200);
  // vhost-scoped export: no users/vhosts/permissions, items without "vhost"
  assert.ok(d.json.queues.some((q: Record<string, unknown>) => q["name"] === `d-${id}` && !("vhost" in q)));
  assert.equal(d.json.users, undefined);
  await api.del(`/api/queues/${v}/d-${id}`);
});

test("message_stats with RabbitMQ's *_details objects appear once a queue has traffic", async (t) => {
  if (skip) return t.skip("no management URL");
  await api.put(`/api/queues/${v}/m-${id}`, {});
  await api.post(`/api/exchanges/${v}/amq.default/publish`, { routing_key: `m-${id}`, payload: "x", payload_encoding: "string", properties: {} });
  const q = await eventually(async () => {
    const r = await api.get(`/api/queues/${v}/m-${id}`);
    return r.json?.message_stats ? r : undefined;
  });
  assert.equal(q.json.message_stats.publish, 1);
  assert.equal(typeof q.json.message_stats.publish_details.rate, "number");
  await api.del(`/api/queues/${v}/m-${id}`);
});
