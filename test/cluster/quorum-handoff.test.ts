/**
 * Quorum queues: leadership that moves without waiting for a lease (docs/cluster.md).
 * n2 and n3 run with `--quorum-lease-ttl 30`, so a leader among them that merely died would
 * hold its queues for 30 s, longer than these tests wait:
 * - graceful stop (SIGTERM) hands leadership to an in-sync follower at once; every confirmed
 *   message is served by the new leader (RabbitMQ: a quorum queue's leader transfers on
 *   `rabbitmq-upgrade drain` / shutdown);
 * - pause_minority: a node cut off from etcd (its etcd connection goes through a proxy the
 *   test cuts) closes its client connections with 320 CONNECTION_FORCED and stops leading;
 *   after the cut heals it reopens and is back in the in-sync set.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { api, EtcdProxy, skipCluster, startEtcd, startNode, stopNodes, waitFor, type Etcd, type WarrenNode } from "./helpers.js";

const skip = skipCluster;

let etcd: Etcd;
let proxy: EtcdProxy;
const nodes: WarrenNode[] = [];
const prefix = `/warren-handoff-${Date.now()}/`;
const ARGS = ["--quorum-lease-ttl", "30"];

before(async () => {
  if (skip) return;
  etcd = await startEtcd(1);
  proxy = await EtcdProxy.to(etcd.endpoints);
  // n1 reaches etcd through the proxy; n2 and n3 directly
  // (n1 keeps the default 2 s election lease: cut off, it stops confirming 1.5 s and fences
  // itself 3 s after its last keepalive)
  nodes.push(await startNode(`127.0.0.1:${proxy.port}`, "warren@n1", { prefix }));
  nodes.push(...(await Promise.all([startNode(etcd.endpoints, "warren@n2", { prefix, args: ARGS }), startNode(etcd.endpoints, "warren@n3", { prefix, args: ARGS })])));
});
after(async () => {
  proxy?.close();
  await stopNodes(nodes, etcd);
});

interface QInfo {
  leader: string | null;
  in_sync: string[];
}
const info = async (n: WarrenNode, q: string): Promise<QInfo> => (await api<QInfo>(n.mgmtUrl!, `/api/queues/%2F/${q}`)).body;

async function confirmAll(url: string, queue: string, ids: number[]): Promise<number> {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createConfirmChannel();
    for (const id of ids) ch.sendToQueue(queue, Buffer.from(String(id)), { persistent: true });
    await ch.waitForConfirms();
    return ids.length;
  } finally {
    await conn.close();
  }
}

test("pause_minority: a node cut off from etcd closes its clients with 320 and stops leading; after the heal it is back in sync", { skip, timeout: 60_000 }, async () => {
  const n1 = nodes[0]!;
  const conn = await amqp.connect(n1.url);
  const ch = await conn.createChannel();
  await ch.assertQueue("cutoff", { durable: true, arguments: { "x-queue-type": "quorum" } });
  assert.equal((await info(nodes[1]!, "cutoff")).leader, "warren@n1");
  await waitFor("3 in sync", async () => (await info(nodes[1]!, "cutoff")).in_sync.length === 3);
  const closed = new Promise<{ code?: number }>((resolve) => conn.once("close", (e?: { code?: number }) => resolve(e ?? {})));
  conn.on("error", () => {});

  proxy.setCut(true);
  const e = await closed;
  assert.equal(e.code, 320, "CONNECTION_FORCED, as RabbitMQ's pause_minority closes its clients");
  // the others elect a leader once n1's (30 s) election lease expires: not waited for here;
  // what matters is that n1 does not serve while cut off
  await assert.rejects(amqp.connect(n1.url), "a fenced node takes no client connections");

  proxy.setCut(false);
  const back = await waitFor(
    "n1 takes clients again",
    async () => {
      try {
        return await amqp.connect(n1.url);
      } catch {
        return undefined;
      }
    },
    30_000,
  );
  await back.close();
  // it follows the definitions again
  const c2 = await amqp.connect(nodes[1]!.url);
  await (await c2.createChannel()).assertQueue("after-heal", { durable: true });
  await c2.close();
  await waitFor("n1 has the queue declared after the heal", async () => (await api(n1.mgmtUrl!, "/api/queues/%2F/after-heal")).status === 200, 15_000);
  await waitFor(
    "a leader and 3 in sync after the heal",
    async () => {
      const q = await info(nodes[1]!, "cutoff");
      return q.leader !== null && q.in_sync.length === 3;
    },
    30_000,
  );
  assert.equal(await confirmAll(nodes[1]!.url, "cutoff", [1, 2, 3]), 3);
});

test("graceful stop (SIGTERM) hands leadership to an in-sync follower without waiting for the lease", { skip, timeout: 60_000 }, async () => {
  const conn = await amqp.connect(nodes[1]!.url);
  await (await conn.createChannel()).assertQueue("handoff", { durable: true, arguments: { "x-queue-type": "quorum" } });
  await conn.close();
  assert.equal((await info(nodes[0]!, "handoff")).leader, "warren@n2");
  await waitFor("3 in sync", async () => (await info(nodes[0]!, "handoff")).in_sync.length === 3);
  assert.equal(
    await confirmAll(
      nodes[0]!.url,
      "handoff",
      Array.from({ length: 100 }, (_, i) => i),
    ),
    100,
  );

  await nodes[1]!.stop();
  const lead = await waitFor(
    "a new leader well before the 30 s lease would expire",
    async () => {
      const q = await info(nodes[2]!, "handoff");
      return q.leader && q.leader !== "warren@n2" ? q.leader : undefined;
    },
    10_000,
  );
  assert.ok(lead === "warren@n1" || lead === "warren@n3");
  // publishing and consuming go on through the remaining nodes, with every confirmed message
  assert.equal(await confirmAll(nodes[0]!.url, "handoff", [100, 101]), 2);
  const sub = await amqp.connect(nodes[2]!.url);
  const sch = await sub.createChannel();
  const got = new Set<number>();
  await sch.consume("handoff", (m) => {
    if (!m) return;
    got.add(Number(m.content.toString()));
    sch.ack(m);
  });
  await waitFor("all 102 delivered", () => got.size === 102);
  await sub.close();
});
