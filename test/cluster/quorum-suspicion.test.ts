/**
 * Leader suspicion (src/cluster/replication.ts, docs/cluster.md "Failover"): the in-sync
 * followers of a quorum queue depose a leader they cannot reach, without waiting for its
 * election lease. The nodes run with a 20 s lease, so a takeover while the frozen leader's lease
 * is still granted at etcd can only be the followers' doing.
 * - a SIGSTOPped leader is replaced while its lease still runs; nothing confirmed is lost, and
 *   once woken it follows the new leader (RabbitMQ's quorum queue: the Raft followers elect a new
 *   leader after missed heartbeats, the old one's term is over when it wakes);
 * - an idle queue keeps its leader: the leader's PINGs are what its followers hear.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { Etcd3 } from "etcd3";
import { api, clusterForFile, skipCluster, waitFor } from "./helpers.js";

const skip = skipCluster;
const c = clusterForFile({ nodes: 3, args: ["--quorum-lease-ttl", "20"] });

interface QInfo {
  leader: string | null;
  in_sync: string[];
  messages: number;
}
const info = async (node: number, q: string): Promise<QInfo> => (await api<QInfo>(c.nodes[node]!.mgmtUrl!, `/api/queues/%2F/${q}`)).body;
const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);

async function publish(url: string, queue: string, ids: number[]): Promise<number[]> {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createConfirmChannel();
    const acked: number[] = [];
    await Promise.all(ids.map((id) => new Promise<void>((resolve) => ch.sendToQueue(queue, Buffer.from(String(id)), { persistent: true }, (err) => (err || acked.push(id), resolve())))));
    return acked;
  } finally {
    await conn.close().catch(() => {});
  }
}

/** the election key's etcd record: its epoch (create revision) and the lease it is bound to */
async function electionKey(etcd: Etcd3, prefix: string, queue: string): Promise<{ epoch: number; lease: string } | null> {
  const r = await etcd.get(`${prefix}qlead/${encodeURIComponent("/")}/${encodeURIComponent(queue)}`).exec();
  const kv = r.kvs[0];
  return kv ? { epoch: Number(kv.create_revision), lease: kv.lease } : null;
}

test("a frozen leader is deposed by its in-sync followers while its election lease still runs; nothing confirmed is lost", { skip, timeout: 90_000 }, async () => {
  const etcd = new Etcd3({ hosts: c.etcd.endpoints.split(",").map((e) => `http://${e}`) });
  try {
    const conn = await amqp.connect(c.nodes[0]!.url);
    await (await conn.createChannel()).assertQueue("frozen", { durable: true, arguments: { "x-queue-type": "quorum" } });
    await conn.close();
    await waitFor("3 in sync", async () => (await info(1, "frozen")).in_sync.length === 3);
    assert.equal((await info(1, "frozen")).leader, "warren@n1");
    assert.deepEqual(await publish(c.nodes[1]!.url, "frozen", range(0, 30)), range(0, 30));
    const before = await electionKey(etcd, c.prefix, "frozen");
    assert.ok(before, "n1 holds the election key");

    c.nodes[0]!.child.kill("SIGSTOP");
    try {
      const leader = await waitFor(
        "another leader",
        async () => {
          const q = await info(1, "frozen");
          return q.leader && q.leader !== "warren@n1" ? q.leader : undefined;
        },
        30_000,
      );
      // n1 renews nothing while stopped: had the followers waited for its lease, it would be gone
      const ttl = Number((await etcd.leaseClient.leaseTimeToLive({ ID: before.lease })).TTL);
      assert.ok(ttl > 0, `the frozen leader's lease is still granted (${ttl} s left) when ${leader} has taken over`);
      const after = await electionKey(etcd, c.prefix, "frozen");
      assert.ok(after && after.epoch > before.epoch, "a new epoch");
      // the queue is available again through the survivors
      const via = c.nodes.findIndex((n) => n.name === leader) === 1 ? 2 : 1;
      assert.deepEqual(await publish(c.nodes[via]!.url, "frozen", range(30, 60)), range(30, 60));
    } finally {
      c.nodes[0]!.child.kill("SIGCONT");
    }
    // woken, n1 learns it was deposed and follows: it is back in the in-sync set, not leading
    const q = await waitFor(
      "n1 in sync again",
      async () => {
        const x = await info(0, "frozen");
        return x.in_sync.length === 3 && x.leader !== "warren@n1" ? x : undefined;
      },
      30_000,
    );
    assert.equal(q.messages, 60, "every confirmed message is in the queue");
    const dconn = await amqp.connect(c.nodes[0]!.url);
    const ch = await dconn.createChannel();
    const got = new Set<number>();
    await ch.consume("frozen", (m) => {
      if (!m) return;
      got.add(Number(m.content.toString()));
      ch.ack(m);
    });
    await waitFor("60 drained through the old leader's node", () => got.size === 60, 20_000);
    await dconn.close();
    assert.deepEqual(
      [...got].sort((a, b) => a - b),
      range(0, 60),
    );
  } finally {
    etcd.close();
  }
});

test("an idle quorum queue keeps its leader and epoch: the leader's PINGs keep its followers from suspecting it", { skip, timeout: 60_000 }, async () => {
  const etcd = new Etcd3({ hosts: c.etcd.endpoints.split(",").map((e) => `http://${e}`) });
  try {
    const conn = await amqp.connect(c.nodes[1]!.url);
    await (await conn.createChannel()).assertQueue("idle", { durable: true, arguments: { "x-queue-type": "quorum" } });
    await conn.close();
    await waitFor("3 in sync", async () => (await info(2, "idle")).in_sync.length === 3);
    const before = await electionKey(etcd, c.prefix, "idle");
    // four times the followers' suspicion threshold (1.5 s) with no message at all
    await new Promise((r) => setTimeout(r, 6000));
    const after = await electionKey(etcd, c.prefix, "idle");
    assert.deepEqual(after, before, "the same election key: nobody deposed the leader");
    const suspicions = await etcd.getAll().prefix(`${c.prefix}qsuspect/`).keys();
    assert.deepEqual(suspicions, [], "no follower suspects its leader");
  } finally {
    etcd.close();
  }
});
