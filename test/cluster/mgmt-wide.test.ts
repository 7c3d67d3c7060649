/**
 * The management API answers for the whole cluster on any node, as RabbitMQ's management
 * database (which aggregates every node's stats) does: /api/nodes gives every running
 * member the full set of node figures (rabbit_mgmt_wm_nodes), /api/connections, /api/channels
 * and /api/consumers list every node's, each with its `node` (rabbit_mgmt_wm_connections),
 * DELETE /api/connections/NAME closes a connection held by another node (320
 * CONNECTION_FORCED, X-Reason as the reason), and /api/queues on any node shows the home
 * node's live message and consumer counts. Three warren nodes, one etcd member, loopback.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { api, clusterForFile, skipCluster, waitFor } from "./helpers.js";

const skip = skipCluster;

const c = clusterForFile({ nodes: 3 });

type J = Record<string, unknown>;
const mgmt = (i: number): string => c.nodes[i]!.mgmtUrl!;

test("/api/nodes: every running member has the same keys, with its own live figures, whichever node answers", { skip }, async () => {
  for (let i = 0; i < 3; i++) {
    const r = await waitFor(`3 running nodes on n${i + 1}`, async () => {
      const x = await api<J[]>(mgmt(i), "/api/nodes");
      return x.body.length === 3 && x.body.every((m) => m["running"] === true) ? x.body : undefined;
    });
    const keys = Object.keys(r.find((m) => m["name"] === c.nodes[i]!.name)!).sort();
    assert.ok(keys.includes("fd_used") && keys.includes("disk_free") && keys.includes("mem_used_details"), "the local entry has RabbitMQ's full shape");
    for (const m of r) {
      assert.deepEqual(Object.keys(m).sort(), keys, `${String(m["name"])} seen from n${i + 1} has every key`);
      const idx = c.nodes.findIndex((n) => n.name === m["name"]);
      assert.equal(m["os_pid"], String(c.nodes[idx]!.child.pid), "each node's figures are its own");
      assert.equal(typeof m["mem_used"], "number");
      assert.ok((m["uptime"] as number) > 0);
    }
    const one = await api<J>(mgmt(i), `/api/nodes/${encodeURIComponent(c.nodes[(i + 1) % 3]!.name)}`);
    assert.equal(one.status, 200);
    assert.deepEqual(Object.keys(one.body).sort(), keys);
    assert.equal(one.body["os_pid"], String(c.nodes[(i + 1) % 3]!.child.pid));
  }
});

test("connections, channels and consumers of every node are listed on any node, with their node; DELETE closes another node's connection", { skip }, async () => {
  const conn = await amqp.connect(c.nodes[1]!.url, { clientProperties: { connection_name: "on-n2" } });
  const closed = new Promise<Error | undefined>((resolve) => conn.on("close", resolve));
  conn.on("error", () => {});
  const ch = await conn.createChannel();
  await ch.assertQueue("mgmt-wide-c", { durable: true });
  await ch.consume("mgmt-wide-c", () => {}, { consumerTag: "tag-on-n2" });
  for (const i of [0, 2]) {
    const list = await waitFor(`n2's connection listed on n${i + 1}`, async () => {
      const x = await api<J[]>(mgmt(i), "/api/connections");
      return x.body.find((cn) => cn["user_provided_name"] === "on-n2") ? x.body : undefined;
    });
    const mine = list.find((cn) => cn["user_provided_name"] === "on-n2")!;
    assert.equal(mine["node"], "warren@n2");
    const name = String(mine["name"]);
    // by vhost, by name, its channels
    const byVhost = await api<J[]>(mgmt(i), "/api/vhosts/%2F/connections");
    assert.ok(byVhost.body.some((cn) => cn["name"] === name));
    const one = await api<J>(mgmt(i), `/api/connections/${encodeURIComponent(name)}`);
    assert.equal(one.status, 200);
    assert.equal(one.body["node"], "warren@n2");
    const chs = await api<J[]>(mgmt(i), `/api/connections/${encodeURIComponent(name)}/channels`);
    assert.equal(chs.status, 200);
    assert.equal(chs.body.length, 1);
    const channels = await api<J[]>(mgmt(i), "/api/channels");
    const chn = channels.body.find((x) => (x["connection_details"] as J | undefined)?.["name"] === name);
    assert.ok(chn, "the channel is listed");
    assert.equal(chn["node"], "warren@n2");
    const oneCh = await api<J>(mgmt(i), `/api/channels/${encodeURIComponent(String(chn["name"]))}`);
    assert.equal(oneCh.status, 200);
    const consumers = await api<J[]>(mgmt(i), "/api/consumers");
    const cons = consumers.body.find((x) => x["consumer_tag"] === "tag-on-n2");
    assert.ok(cons, "the consumer is listed");
    assert.equal((cons["channel_details"] as J)["node"], "warren@n2");
    const byVhostCons = await api<J[]>(mgmt(i), "/api/consumers/%2F");
    assert.ok(byVhostCons.body.some((x) => x["consumer_tag"] === "tag-on-n2"));
  }
  // pagination and sorting apply to the merged list
  const paged = await api<J>(mgmt(0), "/api/connections?page=1&page_size=100");
  assert.ok((paged.body["total_count"] as number) >= 1);
  assert.equal((await api(mgmt(0), "/api/connections/no-such-connection")).status, 404);
  assert.equal((await api(mgmt(0), "/api/connections/no-such-connection", { method: "DELETE" })).status, 404);

  const name = String((await api<J[]>(mgmt(0), "/api/connections")).body.find((cn) => cn["user_provided_name"] === "on-n2")!["name"]);
  const u = new URL(mgmt(2));
  const del = await fetch(`http://${u.host}/api/connections/${encodeURIComponent(name)}`, {
    method: "DELETE",
    headers: { authorization: "Basic " + Buffer.from("guest:guest").toString("base64"), "x-reason": "closed from n3" },
  });
  assert.equal(del.status, 204);
  const err = await closed;
  assert.match(String(err?.message), /320.*closed from n3|CONNECTION_FORCED.*closed from n3/);
  await waitFor("the connection gone from every node's listing", async () => {
    for (let i = 0; i < 3; i++) {
      const x = await api<J[]>(mgmt(i), "/api/connections");
      if (x.body.some((cn) => cn["name"] === name)) return undefined;
    }
    return true;
  });
});

test("/api/queues on any node shows the home node's live message and consumer counts", { skip }, async () => {
  const home = await amqp.connect(c.nodes[0]!.url);
  const other = await amqp.connect(c.nodes[2]!.url);
  try {
    const h = await home.createConfirmChannel();
    await h.assertQueue("mgmt-wide-q", { durable: true });
    for (let i = 0; i < 7; i++) h.sendToQueue("mgmt-wide-q", Buffer.from(String(i)), { persistent: true });
    await h.waitForConfirms();
    // a consumer on n3 (its link consumes at home), prefetch 2: 2 unacked at home, 5 ready
    const o = await other.createChannel();
    await o.prefetch(2);
    await o.consume("mgmt-wide-q", () => {}, { consumerTag: "remote" });
    const want = (q: J): boolean => q["messages"] === 7 && q["consumers"] === 1;
    const onHome = await waitFor("n1's own counts", async () => {
      const q = (await api<J>(mgmt(0), "/api/queues/%2F/mgmt-wide-q")).body;
      return want(q) ? q : undefined;
    });
    for (const i of [1, 2]) {
      // no wait here: the answer is the home node's counts of the moment
      const one = (await api<J>(mgmt(i), "/api/queues/%2F/mgmt-wide-q")).body;
      assert.equal(one["node"], "warren@n1");
      assert.equal(one["messages"], onHome["messages"], `n${i + 1} shows n1's message count`);
      assert.equal(one["consumers"], onHome["consumers"], `n${i + 1} shows n1's consumer count`);
      const all = (await api<J[]>(mgmt(i), "/api/queues")).body.find((q) => q["name"] === "mgmt-wide-q")!;
      assert.equal(all["messages"], 7);
      assert.equal(all["consumers"], 1);
      const byVhost = (await api<J[]>(mgmt(i), "/api/queues/%2F")).body.find((q) => q["name"] === "mgmt-wide-q")!;
      assert.equal(byVhost["messages"], 7);
    }
    await h.purgeQueue("mgmt-wide-q").catch(() => {});
  } finally {
    await other.close().catch(() => {});
    await home.close().catch(() => {});
  }
});

// RabbitMQ's queue `consumers` counts each consumer wherever its channel is: two consumers on
// n3 and one on n2 of a queue homed on n1 are 3 (not one per consuming node's link)
test("a queue's consumers on its home node count each consumer on the other nodes", { skip }, async () => {
  assert.equal((await api(mgmt(0), "/api/queues/%2F/mgmt-wide-cc", { method: "PUT", body: { durable: true } })).status, 201);
  const a = await amqp.connect(c.nodes[2]!.url);
  const b = await amqp.connect(c.nodes[1]!.url);
  try {
    for (const ch of [await a.createChannel(), await a.createChannel(), await b.createChannel()]) await ch.consume("mgmt-wide-cc", () => {});
    for (const i of [0, 1, 2]) {
      await waitFor(`3 consumers seen on n${i + 1}`, async () => (await api<J>(mgmt(i), "/api/queues/%2F/mgmt-wide-cc")).body["consumers"] === 3);
      const listed = (await api<J[]>(mgmt(i), "/api/queues")).body.find((q) => q["name"] === "mgmt-wide-cc")!;
      assert.equal(listed["consumers"], 3);
    }
  } finally {
    await a.close().catch(() => {});
    await b.close().catch(() => {});
  }
  await waitFor("no consumers after the clients left", async () => (await api<J>(mgmt(0), "/api/queues/%2F/mgmt-wide-cc")).body["consumers"] === 0);
  await api(mgmt(0), "/api/queues/%2F/mgmt-wide-cc", { method: "DELETE" });
});

/**
 * RabbitMQ's /api/overview is the cluster's: object_totals.connections/channels/consumers and
 * queue_totals.messages(_ready/_unacknowledged) count every node's, on whichever node answers
 * (queues and exchanges are definitions: the same everywhere). A queue homed on n1 with 3
 * messages, a client on n2 (2 channels, a consumer on a queue homed on n3), one on n3: each
 * node's overview grows by 2 connections, 3 channels, 1 consumer, 3 messages.
 */
test("/api/overview totals are the cluster's on every node", { skip }, async () => {
  const totals = async (i: number): Promise<{ o: J; q: J }> => {
    const b = (await api<J>(mgmt(i), "/api/overview")).body;
    return { o: b["object_totals"] as J, q: b["queue_totals"] as J };
  };
  const base = await Promise.all([0, 1, 2].map(totals));
  const put = (i: number, q: string): Promise<{ status: number }> => api(mgmt(i), `/api/queues/%2F/${q}`, { method: "PUT", body: { durable: true } });
  assert.equal((await put(0, "ov-n1")).status, 201);
  assert.equal((await put(2, "ov-n3")).status, 201);
  const a = await amqp.connect(c.nodes[1]!.url);
  const b = await amqp.connect(c.nodes[2]!.url);
  try {
    const a1 = await a.createChannel();
    await a.createChannel();
    await a1.consume("ov-n3", () => {}, { consumerTag: "ov-remote" });
    const b1 = await b.createConfirmChannel();
    for (let i = 0; i < 3; i++) b1.sendToQueue("ov-n1", Buffer.from(String(i)), { persistent: true });
    await b1.waitForConfirms();
    for (let i = 0; i < 3; i++) {
      const want = { connections: 2, channels: 3, consumers: 1 };
      const got = await waitFor(`n${i + 1}'s overview counts the cluster`, async () => {
        const t = await totals(i);
        const ok = Object.entries(want).every(([k, d]) => t.o[k] === (base[i]!.o[k] as number) + d) && t.q["messages"] === (base[i]!.q["messages"] as number) + 3;
        return ok ? t : undefined;
      });
      assert.equal(got.q["messages_ready"], (base[i]!.q["messages_ready"] as number) + 3);
      assert.equal(typeof (got.q["messages_details"] as J)["rate"], "number");
      assert.equal(got.o["queues"], (base[i]!.o["queues"] as number) + 2, "queues are definitions: counted once");
    }
  } finally {
    await a.close().catch(() => {});
    await b.close().catch(() => {});
    await api(mgmt(0), "/api/queues/%2F/ov-n1", { method: "DELETE" });
    await api(mgmt(0), "/api/queues/%2F/ov-n3", { method: "DELETE" });
  }
});

test("a killed node: listings still answer from the others, and /api/nodes shows it running=false with the static keys", { skip }, async () => {
  await c.nodes[2]!.kill();
  const t0 = Date.now();
  // right away (its lease still live): the others answer without it, within the peer timeout
  const conns = await api<J[]>(mgmt(0), "/api/connections");
  assert.equal(conns.status, 200);
  assert.ok(Date.now() - t0 < 5000);
  const n3 = await waitFor(
    "n3 down on n1",
    async () => {
      const x = await api<J[]>(mgmt(0), "/api/nodes");
      const m = x.body.find((e) => e["name"] === "warren@n3");
      return m && m["running"] === false ? m : undefined;
    },
    20_000,
  );
  for (const k of ["name", "type", "running", "partitions", "cluster_links", "exchange_types", "rates_mode"]) assert.ok(k in n3, `a down node's entry has ${k}`);
  const n2 = (await api<J[]>(mgmt(0), "/api/nodes")).body.find((e) => e["name"] === "warren@n2")!;
  assert.equal(typeof n2["fd_used"], "number", "the running peer still has its live figures");
});
