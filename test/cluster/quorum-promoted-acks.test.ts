/**
 * Acks served by a promoted follower, or by a leader whose backlog went to disk, are replicated
 * (src/cluster/replication.ts, Leader.index; src/broker/queue.ts, Queue.encodable).
 *
 * A follower keeps its copy of a quorum queue with the bodies on disk only (dropped from memory
 * once fsynced). When it wins an election those messages go back into its queue, and a queue
 * may hold a message whose body is on disk as a compact record (paged-tail.ts), rebuilt into a
 * new Message object at delivery. The leader's replication index is keyed by the Message
 * object, so an ack of such a rebuilt message (the same for a leader's own messages once its
 * backlog passed --queue-memory) found no index entry: no DEL reached the
 * followers, which kept the acked messages (redelivered after the next failover), and the
 * leader's index kept entries whose store records were gone (a later snapshot failed on
 * "storeId … is not in the store").
 *
 * RabbitMQ's quorum queue: a settled (acked) message is removed on every member by the Raft
 * log, so after any number of failovers only unacked messages come back.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { api, clusterForFile, drain, skipCluster, startCluster, waitFor } from "./helpers.js";

const skip = skipCluster;
const c = clusterForFile({ nodes: 3 });

interface QInfo {
  leader: string | null;
  in_sync: string[];
  messages: number;
}
const info = async (node: number, q: string): Promise<QInfo> => (await api<QInfo>(c.nodes[node]!.mgmtUrl!, `/api/queues/%2F/${q}`)).body;
const indexOf = (name: string): number => c.nodes.findIndex((n) => n.name === name);

test("messages a promoted follower held, once acked through it, are gone on the other members too: the next failover redelivers none", { skip, timeout: 90_000 }, async () => {
  const q = "promoted-acks";
  const conn = await amqp.connect(c.nodes[0]!.url);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(q, { durable: true, arguments: { "x-queue-type": "quorum" } });
  await waitFor("3 in sync", async () => (await info(0, q)).in_sync.length === 3);
  for (let i = 0; i < 100; i++) ch.sendToQueue(q, Buffer.from(String(i)), { persistent: true });
  await ch.waitForConfirms();
  await conn.close();

  // kill -9 the leader: a follower, whose copy has its bodies on disk only, takes over
  await c.nodes[0]!.kill();
  const lead = await waitFor(
    "a new leader",
    async () => {
      const l = (await info(1, q)).leader;
      return l && l !== c.nodes[0]!.name ? l : undefined;
    },
    30_000,
  );
  const L = indexOf(lead);
  const F = L === 1 ? 2 : 1;
  await waitFor("the other follower in sync with the new leader", async () => (await info(L, q)).in_sync.includes(c.nodes[F]!.name), 20_000);

  // drain and ack all 100 through the new leader
  const got = await drain(c.nodes[L]!.url, q, 100, 50);
  assert.equal(got.size, 100);
  await waitFor("the queue empty on its leader", async () => (await info(L, q)).messages === 0, 10_000);
  // the acks' DELs travel with the leader's next writes; give them a moment beyond the confirm path
  await new Promise((r) => setTimeout(r, 500));

  // now the leader goes too: the last member, in sync, leads with what it holds
  await c.nodes[L]!.kill();
  await waitFor(`${c.nodes[F]!.name} leads`, async () => (await info(F, q)).leader === c.nodes[F]!.name, 30_000);
  const left = (await info(F, q)).messages;
  assert.equal(left, 0, `${left} messages acked through ${lead} are back on ${c.nodes[F]!.name} (its copy never heard of the acks)`);

  // and a consumer there gets nothing
  const fc = await amqp.connect(c.nodes[F]!.url);
  const fch = await fc.createChannel();
  const again: number[] = [];
  await fch.consume(q, (m) => {
    if (m) again.push(Number(m.content.toString()));
  });
  await new Promise((r) => setTimeout(r, 1000));
  await fc.close();
  assert.deepEqual(again, [], "no acked message is delivered again after the second failover");
});

test("a leader whose backlog went to disk (past --queue-memory): its acks reach the followers too", { skip, timeout: 90_000 }, async () => {
  // 4 KiB for all queues' bodies together: the 1 KiB messages below leave memory at once
  const k = await startCluster({ nodes: 3, args: ["--queue-memory", "4096"] });
  try {
    const q = "paged-acks";
    const qinfo = async (node: number): Promise<QInfo> => (await api<QInfo>(k.nodes[node]!.mgmtUrl!, `/api/queues/%2F/${q}`)).body;
    const conn = await amqp.connect(k.nodes[0]!.url);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue(q, { durable: true, arguments: { "x-queue-type": "quorum" } });
    await waitFor("3 in sync", async () => (await qinfo(0)).in_sync.length === 3);
    const body = Buffer.alloc(1024, 7);
    for (let i = 0; i < 100; i++) ch.sendToQueue(q, body, { persistent: true, messageId: String(i) });
    await ch.waitForConfirms();
    // drain and ack all 100 through the leader
    await ch.prefetch(50);
    let got = 0;
    await ch.consume(q, (m) => {
      if (!m) return;
      got++;
      ch.ack(m);
    });
    await waitFor("100 delivered", () => got === 100, 20_000);
    await conn.close();
    await waitFor("the queue empty on its leader", async () => (await qinfo(0)).messages === 0, 10_000);
    await new Promise((r) => setTimeout(r, 500));
    // the leader goes: a follower leads with what it holds, which must be nothing
    await k.nodes[0]!.kill();
    const lead = await waitFor(
      "a new leader",
      async () => {
        const l = (await qinfo(1)).leader;
        return l && l !== k.nodes[0]!.name ? l : undefined;
      },
      30_000,
    );
    const L = k.nodes.findIndex((n) => n.name === lead);
    const left = (await qinfo(L)).messages;
    assert.equal(left, 0, `${left} of the 100 acked messages are back on ${lead} after the failover`);
  } finally {
    await k.stop();
  }
});
