/**
 * Quorum-queue failover time on a 3-node warren cluster (docs/cluster.md):
 *
 *   node dist/bench/quorum-failover.js [kills=5] [--quorum-lease-ttl 2]
 *
 * One etcd member and three nodes on loopback (test/cluster/helpers.ts). A quorum queue is
 * declared on n1. Each round: a publisher with confirms (1 KiB persistent, 50 unconfirmed at
 * most, nacked ones republished) runs on a node that is not the leader; after 1 s the
 * leader's node is killed with SIGKILL. Failover time = from the kill to the first confirm of
 * a message published after the kill. The killed node is restarted and the round ends when
 * it is back in the in-sync set. Run it under `flock /tmp/warren-heavy.lock`.
 */
import amqp from "amqplib";
import { rmSync } from "node:fs";
import { api, startCluster, startNode, waitFor } from "../test/cluster/helpers.js";

const kills = Number(process.argv[2] ?? 5);
const ttlArg = process.argv.indexOf("--quorum-lease-ttl");
const args = ttlArg > 0 ? ["--quorum-lease-ttl", process.argv[ttlArg + 1]!] : [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Q {
  leader: string | null;
  in_sync: string[];
}

async function main(): Promise<void> {
  const c = await startCluster({ nodes: 3 });
  // restart the cluster's nodes with the requested election TTL
  if (args.length > 0) {
    for (let i = 0; i < 3; i++) {
      const n = c.nodes[i]!;
      await n.kill();
      c.nodes[i] = await startNode(c.etcd.endpoints, n.name, { dataDir: n.dataDir, prefix: c.prefix, args });
    }
  }
  const gaps: number[] = [];
  const elections: number[] = [];
  try {
    const d = await amqp.connect(c.nodes[0]!.url);
    await (await d.createChannel()).assertQueue("fo", { durable: true, arguments: { "x-queue-type": "quorum" } });
    await d.close();
    const body = Buffer.alloc(1024, 0x61);
    for (let k = 0; k < kills; k++) {
      const q = (await api<Q>(c.nodes[0]!.mgmtUrl!, "/api/queues/%2F/fo")).body;
      await waitFor("3 in sync", async () => (await api<Q>(c.nodes[0]!.mgmtUrl!, "/api/queues/%2F/fo")).body.in_sync.length === 3, 30_000);
      const li = c.nodes.findIndex((n) => n.name === q.leader);
      const pi = (li + 1) % 3;
      const conn = await amqp.connect(c.nodes[pi]!.url);
      const ch = await conn.createConfirmChannel();
      let killedAt = 0;
      let firstAfter = 0;
      let inFlight = 0;
      let stop = false;
      const pub = (async () => {
        while (!stop) {
          if (inFlight >= 50) {
            await sleep(1);
            continue;
          }
          const sentAt = Date.now();
          inFlight++;
          ch.sendToQueue("fo", body, { persistent: true }, (err) => {
            inFlight--;
            if (!err && killedAt > 0 && sentAt >= killedAt && firstAfter === 0) firstAfter = Date.now();
          });
          if (inFlight >= 50) await sleep(0);
        }
      })();
      await sleep(1000);
      const victim = c.nodes[li]!;
      killedAt = Date.now();
      await victim.kill();
      const newLeader = await waitFor(
        "new leader",
        async () => {
          const r = (await api<Q>(c.nodes[pi]!.mgmtUrl!, "/api/queues/%2F/fo")).body;
          return r.leader && r.leader !== victim.name ? r.leader : undefined;
        },
        30_000,
      );
      elections.push(Date.now() - killedAt);
      await waitFor("a confirm after the kill", () => firstAfter > 0, 30_000);
      gaps.push(firstAfter - killedAt);
      stop = true;
      await pub;
      await conn.close().catch(() => {});
      console.log(`kill ${k + 1}: ${victim.name} killed, ${newLeader} leads; first confirm after the kill ${firstAfter - killedAt} ms`);
      c.nodes[li] = await startNode(c.etcd.endpoints, victim.name, { dataDir: victim.dataDir, prefix: c.prefix, args });
      // drain what the publisher left so rounds stay alike
      const dc = await amqp.connect(c.nodes[pi]!.url);
      await (await dc.createChannel()).purgeQueue("fo");
      await dc.close();
    }
  } finally {
    await c.stop();
    for (const n of c.nodes) rmSync(n.dataDir, { recursive: true, force: true });
  }
  const s = [...gaps].sort((a, b) => a - b);
  console.log(`failover (kill -9 of the leader's node -> first confirm of a later publish), ${gaps.length} kills: min ${s[0]} ms, median ${s[Math.floor(s.length / 2)]} ms, max ${s[s.length - 1]} ms`);
  console.log(`(new leader visible in /api/queues after: ${elections.join(", ")} ms)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
