/**
 * Definitions on every node: a change made through any node (AMQP or the management API)
 * is visible on every other node by the time the client has its declare-ok / 2xx — checked
 * right after the answer, with no waiting — and the equivalence check (406) is decided
 * against the cluster's definition, also for two nodes declaring the same name at once.
 * (RabbitMQ behaviour pinned: metadata is replicated to all nodes; PRECONDITION_FAILED for
 * an inequivalent redeclare, whichever node the first declare came through.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { api, clusterForFile, skipCluster } from "./helpers.js";

const skip = skipCluster;

const c = clusterForFile({ nodes: 3 });

async function channel(url: string): Promise<{ conn: amqp.ChannelModel; ch: amqp.Channel }> {
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  ch.on("error", () => {});
  return { conn, ch };
}

test("a queue, an exchange and a binding declared on n1 are on n2 and n3 when declare-ok arrives", { skip }, async () => {
  const { conn, ch } = await channel(c.nodes[0]!.url);
  try {
    await ch.assertExchange("orders-x", "topic", { durable: true });
    await ch.assertQueue("orders", { durable: true, arguments: { "x-max-length": 10 } });
    await ch.bindQueue("orders", "orders-x", "order.*");
    for (const n of c.nodes.slice(1)) {
      const q = await api<{ arguments: Record<string, unknown> }>(n.mgmtUrl!, "/api/queues/%2F/orders");
      assert.equal(q.status, 200, `queue on ${n.name}`);
      assert.deepEqual(q.body.arguments, { "x-max-length": 10 });
      const x = await api<{ type: string }>(n.mgmtUrl!, "/api/exchanges/%2F/orders-x");
      assert.equal(x.body.type, "topic");
      const b = await api<{ routing_key: string }[]>(n.mgmtUrl!, "/api/bindings/%2F/e/orders-x/q/orders");
      assert.deepEqual(
        b.body.map((x) => x.routing_key),
        ["order.*"],
      );
    }
    // gone everywhere by delete-ok
    await ch.deleteQueue("orders");
    for (const n of c.nodes.slice(1)) assert.equal((await api(n.mgmtUrl!, "/api/queues/%2F/orders")).status, 404, `deleted on ${n.name}`);
  } finally {
    await conn.close();
  }
});

test("an inequivalent redeclare on another node is 406 PRECONDITION_FAILED", { skip }, async () => {
  const a = await channel(c.nodes[0]!.url);
  const b = await channel(c.nodes[1]!.url);
  try {
    await a.ch.assertQueue("eq-q", { durable: true, arguments: { "x-message-ttl": 1000 } });
    await assert.rejects(b.ch.assertQueue("eq-q", { durable: true, arguments: { "x-message-ttl": 2000 } }), (e: Error & { code?: number }) => {
      assert.equal(e.code, 406);
      assert.match(
        e.message,
        /PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'eq-q' in vhost '\/': received the value '2000' of type 'signedint' but current is none|PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'eq-q'/,
      );
      return true;
    });
    const b2 = await b.conn.createChannel();
    await b2.assertQueue("eq-q", { durable: true, arguments: { "x-message-ttl": 1000 } }); // the same args: fine
    await b2.deleteQueue("eq-q");
  } finally {
    await a.conn.close();
    await b.conn.close();
  }
});

test("two nodes declaring one new name at once with different arguments: one wins, the other gets 406, all nodes agree", { skip }, async () => {
  const chans = await Promise.all(c.nodes.map((n) => channel(n.url)));
  try {
    for (let round = 0; round < 5; round++) {
      const name = `race-${round}`;
      const results = await Promise.allSettled(chans.map((x, i) => x.ch.assertQueue(name, { durable: true, arguments: { "x-max-length": 100 + i } })));
      const ok = results.filter((r) => r.status === "fulfilled").length;
      assert.equal(ok, 1, `round ${round}: exactly one declare wins (${results.map((r) => r.status).join(",")})`);
      for (const r of results) if (r.status === "rejected") assert.equal((r.reason as { code?: number }).code, 406);
      const seen = await Promise.all(c.nodes.map(async (n) => (await api<{ arguments: Record<string, number> }>(n.mgmtUrl!, `/api/queues/%2F/${name}`)).body.arguments["x-max-length"]));
      assert.equal(new Set(seen).size, 1, `round ${round}: every node has the same definition (${seen.join(",")})`);
      // the losers' channels were closed by the 406: reopen them
      for (let i = 0; i < chans.length; i++) {
        if (results[i]!.status === "rejected") {
          chans[i]!.ch = await chans[i]!.conn.createChannel();
          chans[i]!.ch.on("error", () => {});
        }
      }
    }
  } finally {
    for (const x of chans) await x.conn.close();
  }
});

test("users, permissions, vhosts and policies set through any node's HTTP API are on every node at the 2xx", { skip }, async () => {
  const [n1, n2, n3] = c.nodes as [(typeof c.nodes)[0], (typeof c.nodes)[0], (typeof c.nodes)[0]];
  assert.equal((await api(n3.mgmtUrl!, "/api/vhosts/shop", { method: "PUT", body: {} })).status, 201);
  assert.equal((await api(n2.mgmtUrl!, "/api/users/bob", { method: "PUT", body: { password: "s3cret-pass", tags: "" } })).status, 201);
  assert.equal((await api(n1.mgmtUrl!, "/api/permissions/shop/bob", { method: "PUT", body: { configure: "", write: ".*", read: ".*" } })).status, 201);
  assert.equal((await api(n2.mgmtUrl!, "/api/policies/shop/ttl", { method: "PUT", body: { pattern: "^t\\.", definition: { "message-ttl": 5000 }, "apply-to": "queues" } })).status, 201);
  assert.equal((await api(n3.mgmtUrl!, "/api/queues/shop/t.1", { method: "PUT", body: { durable: true } })).status, 201);
  for (const n of c.nodes) {
    assert.equal((await api(n.mgmtUrl!, "/api/vhosts/shop")).status, 200, `vhost on ${n.name}`);
    assert.equal((await api(n.mgmtUrl!, "/api/users/bob")).status, 200, `user on ${n.name}`);
    const p = await api<{ write: string }>(n.mgmtUrl!, "/api/permissions/shop/bob");
    assert.equal(p.body.write, ".*", `permission on ${n.name}`);
    const q = await api<{ policy: string }>(n.mgmtUrl!, "/api/queues/shop/t.1");
    assert.equal(q.body.policy, "ttl", `queue and its policy on ${n.name}`);
  }
  // bob can now log in on every node, with the password set through n2
  for (const n of c.nodes) {
    const conn = await amqp.connect(`amqp://bob:s3cret-pass@127.0.0.1:${n.port}/shop`);
    await conn.close();
  }
  assert.equal((await api(n1.mgmtUrl!, "/api/vhosts/shop", { method: "DELETE" })).status, 204);
  for (const n of c.nodes) assert.equal((await api(n.mgmtUrl!, "/api/vhosts/shop")).status, 404, `vhost deleted on ${n.name}`);
});

test("a node started later gets every definition made before it joined", { skip }, async () => {
  const { conn, ch } = await channel(c.nodes[1]!.url);
  await ch.assertQueue("before-join", { durable: true });
  await conn.close();
  const { startNode } = await import("./helpers.js");
  const n4 = await startNode(c.etcd.endpoints, "warren@n4", { prefix: c.prefix });
  c.nodes.push(n4);
  assert.equal((await api(n4.mgmtUrl!, "/api/queues/%2F/before-join")).status, 200);
});
