/**
 * Vhost limits, user limits and operator policies are enforced, with RabbitMQ 3.10's codes and
 * texts. Runs against warren and, with WARREN_TEST_URL + WARREN_TEST_MGMT_URL, against RabbitMQ
 * (each test makes its own vhost and user and deletes them). RabbitMQ behaviour pinned down:
 *  - vhost max-connections: connection.open past it is closed 530 "access to vhost 'V' refused
 *    for user 'U': connection limit (N) is reached"; a negative value lifts the limit;
 *  - vhost max-queues: declaring a new queue past it is 406 "cannot declare queue 'Q': queue
 *    limit in vhost 'V' (N) is reached" (server-named queues too; redeclaring an existing one is
 *    fine), and 400 with the same reason over the HTTP API;
 *  - user max-connections: 530 "connection refused for user 'U': user connection limit (N) is
 *    reached", counted across vhosts; user max-channels: the channel.open past it closes the
 *    connection, 530 "number of channels opened for user 'U' has reached the maximum allowed
 *    user limit of (N)";
 *  - operator policies cap a queue's max-length below both its own argument and its policy
 *    (smallest wins), show as operator_policy and in effective_policy_definition, and refuse
 *    keys and values RabbitMQ refuses ("Validation failed").
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { AMQPClient } from "@cloudamqp/amqp-client";
import { startBroker, type TestBroker } from "../helpers/broker.js";
import { Api } from "./helpers.js";

let b: TestBroker;
let api: Api;
let port: number;
let host: string;

before(async () => {
  b = await startBroker({ mgmt: true });
  if (b.mgmtUrl === undefined) throw new Error("these tests need the management API (WARREN_TEST_MGMT_URL)");
  api = new Api(b.mgmtUrl);
  port = b.port;
  host = b.host;
});
after(async () => {
  await b.stop();
});

const suffix = `${process.pid}-${Date.now() % 100000}`;

/** A fresh vhost with guest (and `user` if given) allowed everything in it; removed afterwards. */
async function vhost(t: { after(fn: () => Promise<void>): void }, name: string, users: string[] = ["guest"]): Promise<string> {
  const v = `${name}-${suffix}`;
  assert.equal((await api.put(`/api/vhosts/${encodeURIComponent(v)}`, {})).status, 201);
  // (the creating user already has full permissions in a vhost made over the API: 204 then)
  for (const u of users) assert.ok([201, 204].includes((await api.put(`/api/permissions/${encodeURIComponent(v)}/${u}`, { configure: ".*", write: ".*", read: ".*" })).status));
  t.after(async () => {
    await api.del(`/api/vhosts/${encodeURIComponent(v)}`);
  });
  return v;
}

/**
 * GET `path` until `ok` accepts the JSON (RabbitMQ's management API shows a queue's policy fields
 * from its stats database, refreshed every few seconds; warren at once). Bounded: 15 s.
 */
async function getWhen(path: string, ok: (j: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const j = (await api.get(path)).json as Record<string, unknown>;
    if (ok(j) || Date.now() > deadline) return j;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function user(t: { after(fn: () => Promise<void>): void }, name: string): Promise<string> {
  const u = `${name}-${suffix}`;
  assert.equal((await api.put(`/api/users/${u}`, { password: "pw", tags: "" })).status, 201);
  t.after(async () => {
    await api.del(`/api/users/${u}`);
  });
  return u;
}

function url(u: string, p: string, v: string): string {
  return `amqp://${u}:${p}@${host}:${port}/${encodeURIComponent(v)}`;
}

/** Connect with @cloudamqp/amqp-client, whose errors carry the server's close reason. */
async function connectClient(u: string, p: string, v: string): Promise<AMQPClient> {
  const c = new AMQPClient(url(u, p, v));
  await c.connect();
  return c;
}

test("vhost max-connections: the connection past the limit is refused with 530, -1 lifts it", async (t) => {
  const v = await vhost(t, "lim-conn");
  assert.equal((await api.put(`/api/vhost-limits/${encodeURIComponent(v)}/max-connections`, { value: 1 })).status, 204);
  const first = await connectClient("guest", "guest", v);
  await assert.rejects(connectClient("guest", "guest", v), (e: Error) => {
    assert.match(e.message, new RegExp(`NOT_ALLOWED - access to vhost '${v}' refused for user 'guest': connection limit \\(1\\) is reached`));
    assert.match(e.message, /530/);
    return true;
  });
  assert.equal((await api.put(`/api/vhost-limits/${encodeURIComponent(v)}/max-connections`, { value: -1 })).status, 204);
  const second = await connectClient("guest", "guest", v);
  await second.close();
  await first.close();
});

test("vhost max-queues: new queues past the limit are refused (406 over AMQP, 400 over HTTP); existing ones redeclare", async (t) => {
  const v = await vhost(t, "lim-queues");
  assert.equal((await api.put(`/api/vhost-limits/${encodeURIComponent(v)}/max-queues`, { value: 2 })).status, 204);
  const c = await amqp.connect(url("guest", "guest", v));
  try {
    let ch = await c.createChannel();
    await ch.assertQueue("q1");
    await ch.assertQueue("q2");
    await ch.assertQueue("q1"); // redeclare: not a new queue
    const closed = new Promise<Error>((resolve) => ch.once("error", resolve));
    await assert.rejects(ch.assertQueue("q3"));
    assert.match((await closed).message, new RegExp(`406 \\(PRECONDITION-FAILED\\) with message "PRECONDITION_FAILED - cannot declare queue 'q3': queue limit in vhost '${v}' \\(2\\) is reached"`));
    ch = await c.createChannel();
    const closed2 = new Promise<Error>((resolve) => ch.once("error", resolve));
    await assert.rejects(ch.assertQueue("", { exclusive: true }));
    assert.match((await closed2).message, new RegExp(`cannot declare queue 'amq\\.gen-[^']+': queue limit in vhost '${v}' \\(2\\) is reached`));
    const r = await api.put(`/api/queues/${encodeURIComponent(v)}/httpq`, { durable: false });
    assert.equal(r.status, 400);
    assert.equal((r.json as { reason: string }).reason, `cannot declare queue 'httpq': queue limit in vhost '${v}' (2) is reached`);
    // deleting one makes room
    ch = await c.createChannel();
    await ch.deleteQueue("q2");
    await ch.assertQueue("q3");
  } finally {
    await c.close().catch(() => {});
  }
});

test("user max-connections counts across vhosts; user max-channels closes the connection that opens one too many", async (t) => {
  const u = await user(t, "lim-user");
  const v1 = await vhost(t, "lim-u1", [u]);
  const v2 = await vhost(t, "lim-u2", [u]);
  assert.equal((await api.put(`/api/user-limits/${u}/max-connections`, { value: 1 })).status, 204);
  assert.equal((await api.put(`/api/user-limits/${u}/max-channels`, { value: 2 })).status, 204);
  const first = await connectClient(u, "pw", v1);
  await assert.rejects(connectClient(u, "pw", v2), new RegExp(`NOT_ALLOWED - connection refused for user '${u}': user connection limit \\(1\\) is reached`));
  await first.close();

  const c = await amqp.connect(url(u, "pw", v1));
  const closed = new Promise<Error>((resolve) => c.once("error", resolve));
  await c.createChannel();
  await c.createChannel();
  await assert.rejects(c.createChannel());
  assert.match(
    (await closed).message,
    new RegExp(`530 \\(NOT-ALLOWED\\) with message "NOT_ALLOWED - number of channels opened for user '${u}' has reached the maximum allowed user limit of \\(2\\)"`),
  );
});

test("operator policies cap max-length below the queue's argument and its policy, and refuse what RabbitMQ refuses", async (t) => {
  const v = await vhost(t, "lim-op");
  const V = encodeURIComponent(v);
  for (const [def, reason] of [
    [{ "dead-letter-exchange": "x" }, `[{<<"dead-letter-exchange">>,<<"x">>}] are not recognised policy settings`],
    [{ "max-length": -1 }, "-1 is not a valid maximum length"],
    [{ "max-length": "x" }, `<<"x">> is not a valid maximum length`],
    [{ expires: 0 }, "0 is not a valid queue expiry"],
    [{}, "no policy provided"],
  ] as const) {
    const r = await api.put(`/api/operator-policies/${V}/bad`, { pattern: "^op", definition: def, "apply-to": "queues" });
    assert.equal(r.status, 400, JSON.stringify(def));
    assert.equal((r.json as { reason: string }).reason, `Validation failed\n\n${reason}\n`);
  }
  assert.equal((await api.put(`/api/policies/${V}/p1`, { pattern: "^op", definition: { "max-length": 10, "message-ttl": 600000 }, "apply-to": "queues" })).status, 201);
  assert.equal((await api.put(`/api/operator-policies/${V}/cap`, { pattern: "^op", definition: { "max-length": 5, "message-ttl": 3600000 }, "apply-to": "queues" })).status, 201);
  const c = await amqp.connect(url("guest", "guest", v));
  try {
    const ch = await c.createConfirmChannel();
    await ch.assertQueue("op-own", { arguments: { "x-max-length": 3 } });
    await ch.assertQueue("op-capped");
    await ch.assertQueue("other");
    for (let i = 0; i < 20; i++) for (const q of ["op-own", "op-capped", "other"]) ch.sendToQueue(q, Buffer.from(String(i)));
    await ch.waitForConfirms();
    assert.equal((await ch.checkQueue("op-own")).messageCount, 3, "the queue's own argument is the smallest");
    assert.equal((await ch.checkQueue("op-capped")).messageCount, 5, "the operator policy caps the policy's 10");
    assert.equal((await ch.checkQueue("other")).messageCount, 20);
    const q = await getWhen(`/api/queues/${V}/op-capped`, (j) => j["operator_policy"] === "cap");
    assert.equal(q["policy"], "p1");
    assert.equal(q["operator_policy"], "cap");
    // smaller of each: max-length from the operator policy, message-ttl from the user's policy
    assert.deepEqual(q["effective_policy_definition"], { "max-length": 5, "message-ttl": 600000 });
    const other = (await api.get(`/api/queues/${V}/other`)).json as Record<string, unknown>;
    assert.equal(other["operator_policy"], null);

    // clearing the operator policy: the user's policy (10) applies again
    assert.equal((await api.del(`/api/operator-policies/${V}/cap`)).status, 204);
    for (let i = 0; i < 20; i++) ch.sendToQueue("op-capped", Buffer.from(String(i)));
    await ch.waitForConfirms();
    assert.equal((await ch.checkQueue("op-capped")).messageCount, 10);
    const after = await getWhen(`/api/queues/${V}/op-capped`, (j) => j["operator_policy"] === null);
    assert.equal(after["operator_policy"], null);
  } finally {
    await c.close().catch(() => {});
  }
});
