/**
 * The CI-bounded chaos set (the full matrix is `npm run chaos`, test/chaos/run.ts): a 3-node
 * warren cluster on loopback with one etcd member, the chaos workload (confirmed persistent
 * publishes from nodes other than the queue's, one acking consumer per queue, every delivery
 * recorded) on two queues declared `x-queue-type: quorum` and one classic queue, one nemesis
 * per test, then heal, drain and the checker:
 *
 * - kill -9 the node of q1 (leader, or for a classic queue its home) and restart it: every
 *   confirmed message must be delivered (RabbitMQ: a confirmed persistent message on a durable
 *   queue survives its node's crash; a classic queue's messages come back with the node);
 * - SIGSTOP that node for 2 x the lease TTL, then SIGCONT: the same.
 *
 * lost == 0, unexpected == 0 and ackedBack == 0 (an ack made away from the fault sticks) are
 * asserted; other duplicates are allowed (at-least-once).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { NEMESES, runScenario, type ScenarioResult } from "../chaos/nemesis.js";
import { startWarrenCluster } from "../chaos/targets.js";
import { skipCluster } from "./helpers.js";

const skip = skipCluster;

async function scenario(name: string): Promise<ScenarioResult> {
  const nemesis = NEMESES.find((n) => n.name === name)!;
  return runScenario({
    nemesis,
    start: () => startWarrenCluster({ mode: "loopback", etcdMembers: 1, leaseTtl: 2 }),
    cycles: 1,
    warmupMs: 2000,
    faultMs: 3000,
    recoverMs: 2000,
    leaseTtlMs: 2000,
    publishers: 1,
    window: 100,
    rate: 60,
    drainTimeoutMs: 30_000,
  });
}

function assertSafe(r: ScenarioResult): void {
  const v = r.verdict;
  const why = JSON.stringify({ error: r.error, lost: v.lostSample, unexpected: v.unexpectedSample, ok: v.ok, published: v.published });
  assert.equal(r.error, undefined, why);
  assert.equal(v.lost, 0, `confirmed but never delivered: ${why}`);
  assert.equal(v.unexpected, 0, `delivered but never published: ${why}`);
  assert.equal(v.orderViolations, 0, `reordered: ${v.orderSample.join(", ")}`);
  // RabbitMQ's quorum queue commits a settle through Raft: an ack made while the cluster was
  // healthy (ACK_GRACE_MS away from the fault) never brings its message back
  assert.equal(v.ackedBack, 0, `acked messages delivered again: ${v.ackedBackSample.join("; ")}`);
  // the run did something: every queue got confirms, and the deliveries cover the confirms
  for (const q of v.queues) assert.ok(q.confirmed > 0, `${q.queue} had confirms`);
  assert.ok(v.delivered >= v.ok, `${v.delivered} deliveries for ${v.ok} confirms`);
}

test("chaos: kill -9 the leader's node and restart it — no confirmed message lost", { skip, timeout: 120_000 }, async () => {
  assertSafe(await scenario("kill-leader"));
});

test("chaos: SIGSTOP the leader's node for 2 x the lease TTL — no confirmed message lost", { skip, timeout: 120_000 }, async () => {
  assertSafe(await scenario("pause-leader"));
});
