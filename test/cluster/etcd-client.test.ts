/**
 * warren's etcd client against a member that is cut off from etcd's leader but still answers
 * its clients' pings, the partition the chaos harness's isolate-follower makes when etcd runs
 * beside each node (docs/chaos.md). Such a member holds every request until its deadline; a
 * quorum leader's ISR change holds every confirm of its queue meanwhile, so those writes go
 * through EtcdClient.txnUrgent, which must get its answer from another member.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { EtcdClient } from "../../src/cluster/etcd.js";
import { etcdLeaderIndex, skipCluster, startEtcd, waitFor, type Etcd } from "./helpers.js";

/**
 * The members to cut apart (etcd's leader and the next one, which both still reach the third) and
 * three clients, connected and probed before the cut: `client` lists the member to be cut off
 * first (so it is tried first), `alone` knows only that member, `healthy` only the leader.
 */
async function clientsAroundCut(etcd: Etcd, deadlineMs: number, clients: EtcdClient[]): Promise<{ stuck: number; leader: number; client: EtcdClient; alone: EtcdClient; healthy: EtcdClient }> {
  const eps = etcd.members.map((m) => m.clientUrl.replace(/^http:\/\//, ""));
  const leader = await waitFor("an etcd leader", async () => {
    const l = await etcdLeaderIndex(etcd);
    return l >= 0 ? l : undefined;
  });
  const stuck = (leader + 1) % eps.length;
  const client = await EtcdClient.connect([eps[stuck]!, ...eps.filter((_, i) => i !== stuck)], deadlineMs);
  clients.push(client);
  const alone = await EtcdClient.connect([eps[stuck]!], 1000);
  clients.push(alone);
  const healthy = await EtcdClient.connect([eps[leader]!], 2000);
  clients.push(healthy);
  return { stuck, leader, client, alone, healthy };
}

/** resolves once a write through `alone` (a client of the cut-off member only) gets no answer */
async function heldByStuckMember(alone: EtcdClient): Promise<void> {
  await waitFor(
    "the cut-off member to hold its requests",
    async () => {
      try {
        await alone.txn([], [{ put: "/probe", value: "x" }]);
        return false;
      } catch {
        return true;
      }
    },
    30_000,
  );
}

test("an urgent transaction is answered while the member it tries first is cut off from etcd's leader", { skip: skipCluster, timeout: 90_000 }, async () => {
  const etcd = await startEtcd(3, { peerNet: true });
  const clients: EtcdClient[] = [];
  try {
    // Calls wait up to DEADLINE_MS for an answer (warren's default), and a call on the cut-off
    // member waits all of it: etcd itself gives up on a request only after 5 s plus two election
    // timeouts (6 s here).
    const DEADLINE_MS = 5000;
    const { stuck, leader, client, alone, healthy } = await clientsAroundCut(etcd, DEADLINE_MS, clients);
    assert.equal((await client.txnUrgent([], [{ put: "/urgent/before", value: "1" }])).succeeded, true);

    etcd.peerNet!.cut(stuck, leader);
    await heldByStuckMember(alone);

    // a put guarded by a compare it leaves true, as writeQuorum's: running twice is harmless
    const guard = [{ key: "/urgent/before", target: "value" as const, op: "==" as const, value: "1" }];
    // (the shared client's calls go to a member picked at random: one in three waits the whole
    // deadline on the cut-off member before the client retries elsewhere)
    for (let i = 0; i < 6; i++) {
      const t0 = Date.now();
      const r = await client.txnUrgent(guard, [{ put: "/urgent/during", value: String(i) }], [{ get: "/urgent/before" }]);
      assert.equal(r.succeeded, true, `urgent write ${i} while the member is cut off`);
      assert.ok(Date.now() - t0 < DEADLINE_MS, `urgent write ${i} waited out the deadline (${Date.now() - t0} ms)`);
    }
    assert.equal((await healthy.get("/urgent/during"))?.value, "5");

    // a refused compare is an answer too, not an error: the caller tells success from refusal
    const refused = await client.txnUrgent([{ key: "/urgent/before", target: "value", op: "==", value: "nope" }], [{ put: "/urgent/never", value: "x" }], [{ get: "/urgent/before" }]);
    assert.equal(refused.succeeded, false);
    assert.equal(refused.got[0]?.value, "1");
    assert.equal(await healthy.get("/urgent/never"), null);

    // etcd reachable nowhere: a clear error within the client's deadline, not a hang
    for (const m of etcd.members) await m.kill();
    await assert.rejects(client.txnUrgent([], [{ put: "/urgent/after", value: "x" }]), /no etcd member answered/);
  } finally {
    for (const c of clients) c.close();
    await etcd.stop();
  }
});

test("a lease renewed through a member cut off from etcd's leader is not lost: renewals move to another member", { skip: skipCluster, timeout: 90_000 }, async () => {
  const etcd = await startEtcd(3, { peerNet: true });
  const clients: EtcdClient[] = [];
  try {
    const { stuck, leader, client, alone, healthy } = await clientsAroundCut(etcd, 2000, clients);
    let lost: Error | null = null;
    // TTL 2 s: warren's default election lease (--quorum-lease-ttl)
    const lease = await client.lease(2, (e) => (lost = e));
    assert.equal(lease.ttl, 2, "the TTL etcd granted");
    await client.txn([], [{ put: "/lease/key", value: "held", lease: lease.id }]);

    etcd.peerNet!.cut(stuck, leader);
    await heldByStuckMember(alone);
    // three TTLs while the member that renewals go to first renews nothing
    await new Promise((r) => setTimeout(r, 6000));
    assert.equal(lost, null, "the lease was given up");
    assert.equal((await healthy.get("/lease/key"))?.value, "held", "the lease expired in etcd");

    etcd.peerNet!.heal();
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(lost, null);
    assert.equal((await healthy.get("/lease/key"))?.value, "held");
    await lease.revoke();
    assert.equal(await healthy.get("/lease/key"), null);
  } finally {
    for (const c of clients) c.close();
    await etcd.stop();
  }
});
