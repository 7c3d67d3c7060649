/**
 * Nemeses and the run of one scenario: a fresh cluster, three queues (two declared
 * `x-queue-type: quorum`, one classic, each declared through a different node), the workload,
 * warm-up, `cycles` × (fault, heal, recovery), then every node back and healed, publishing
 * stopped, the queues drained by the consumers, and the checker's verdict.
 *
 * "The leader" is the node /api/queues/<vhost>/<q1> names as `leader` (RabbitMQ quorum queues,
 * warren replicated queues) or else as `node` (a classic queue's home); "a follower" is another
 * node. Which node that is is looked up again before every fault.
 */
import amqp from "amqplib";
import os from "node:os";
import { check, newHistory, type History, type Verdict } from "./checker.js";
import type { ChaosCluster } from "./targets.js";
import { startWorkload } from "./workload.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface NemesisContext {
  c: ChaosCluster;
  /** the node leading q1 (a quorum queue), or with an index the leader/home of that queue */
  leader(queueIndex?: number): Promise<number>;
  faultMs: number;
  leaseTtlMs: number;
  paused: Set<number>;
  log(s: string): void;
  /** isolate-leader: first move etcd's leadership to the member beside the victim (the worst case) */
  etcdLeaderOnVictim?: boolean;
}

export interface Nemesis {
  name: string;
  what: string;
  /** netns: needs partitions; etcd: needs etcd members; disk: needs a tmpfs data dir */
  needs?: ("netns" | "etcd" | "disk")[];
  fault(ctx: NemesisContext): Promise<void>;
}

const other = (i: number, n = 3): number => (i + 1) % n;

/** the index of the etcd member that leads (/v3/maintenance/status), -1 when none answers */
async function etcdLeader(c: ChaosCluster): Promise<number> {
  for (let i = 0; i < c.etcd.length; i++) {
    try {
      const r = await fetch(`${c.etcd[i]!.clientUrl}/v3/maintenance/status`, { method: "POST", body: "{}", signal: AbortSignal.timeout(1000) });
      const s = (await r.json()) as { header: { member_id: string }; leader: string };
      if (s.header.member_id === s.leader) return i;
    } catch {}
  }
  return -1;
}

const etcdPost = async <T>(url: string, path: string, body: unknown): Promise<T> => {
  const r = await fetch(`${url}${path}`, { method: "POST", body: JSON.stringify(body), signal: AbortSignal.timeout(3000) });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
};

/** etcd's leadership to member i (MoveLeader through the JSON gateway), then 2 s for keepalives to settle */
async function moveEtcdLeader(c: ChaosCluster, i: number, log: (s: string) => void): Promise<void> {
  const from = await etcdLeader(c);
  if (from === i || from < 0) return;
  const { members } = await etcdPost<{ members: { ID: string; name: string }[] }>(c.etcd[from]!.clientUrl, "/v3/cluster/member/list", {});
  const target = members.find((m) => m.name === c.etcd[i]!.name);
  if (!target) throw new Error(`no etcd member named ${c.etcd[i]!.name}`);
  await etcdPost(c.etcd[from]!.clientUrl, "/v3/maintenance/transfer-leadership", { targetID: target.ID });
  for (let t = 0; t < 30 && (await etcdLeader(c)) !== i; t++) await sleep(100);
  log(`moved etcd's leadership e${from} -> e${i}`);
  await sleep(2000);
}

export const NEMESES: Nemesis[] = [
  {
    name: "kill-leader",
    what: "kill -9 the leader's node, restart it (data dir kept)",
    async fault(x) {
      const l = await x.leader();
      await x.c.nodes[l]!.kill();
      await sleep(x.faultMs);
      await x.c.nodes[l]!.start();
    },
  },
  {
    name: "kill-follower",
    what: "kill -9 a follower's node, restart it",
    async fault(x) {
      const f = other(await x.leader());
      await x.c.nodes[f]!.kill();
      await sleep(x.faultMs);
      await x.c.nodes[f]!.start();
    },
  },
  {
    name: "kill-classic",
    what: "kill -9 the home node of the classic queue c1, restart it",
    async fault(x) {
      const h = await x.leader(2);
      await x.c.nodes[h]!.kill();
      await sleep(x.faultMs);
      await x.c.nodes[h]!.start();
    },
  },
  {
    name: "pause-leader",
    what: "SIGSTOP the leader's node for 2 x lease TTL, then SIGCONT",
    async fault(x) {
      const l = await x.leader();
      x.paused.add(l);
      x.c.nodes[l]!.pause();
      x.log(`paused n${l + 1}`);
      await sleep(2 * x.leaseTtlMs);
      x.c.nodes[l]!.resume();
      x.paused.delete(l);
    },
  },
  {
    name: "isolate-leader",
    what: "blackhole the leader's namespace from both other nodes (and their etcd members)",
    needs: ["netns"],
    async fault(x) {
      const l = await x.leader();
      if (x.etcdLeaderOnVictim && x.c.etcd.length > l) await moveEtcdLeader(x.c, l, x.log);
      // etcd's leader on the isolated side means an etcd election (and leases extended by it) before anyone can take over
      x.log(`isolate-leader: q1's leader n${l + 1}, q2's n${(await x.leader(1)) + 1}, etcd leader ${x.c.etcd.length ? `e${await etcdLeader(x.c)}` : "-"}`);
      x.c.isolate(
        l,
        [0, 1, 2].filter((j) => j !== l),
      );
      await sleep(x.faultMs);
      x.c.heal();
    },
  },
  {
    name: "isolate-follower",
    what: "blackhole one follower from the leader only (both still reach the third node and etcd)",
    needs: ["netns"],
    async fault(x) {
      const l = await x.leader();
      const f = other(l);
      // worst case: etcd's leader beside the isolated follower, so the leader's etcd member loses
      // its etcd leader while it still answers its clients (whoever's lease renewal lands there)
      if (x.etcdLeaderOnVictim && x.c.etcd.length > f) await moveEtcdLeader(x.c, f, x.log);
      x.log(`isolate-follower: n${f + 1} from q1's leader n${l + 1}, etcd leader ${x.c.etcd.length ? `e${await etcdLeader(x.c)}` : "-"}`);
      x.c.isolate(f, [l]);
      await sleep(x.faultMs);
      x.c.heal();
    },
  },
  {
    name: "kill-etcd",
    what: "kill -9 the etcd leader member, restart it",
    needs: ["etcd"],
    async fault(x) {
      const victim = Math.max(0, await etcdLeader(x.c));
      await x.c.etcd[victim]!.kill();
      x.log(`killed etcd e${victim}`);
      await sleep(x.faultMs);
      await x.c.etcd[victim]!.start();
    },
  },
  {
    name: "restart-all",
    what: "kill -9 every node (and every etcd member), start them again cold in random order",
    async fault(x) {
      for (const n of x.c.nodes) await n.kill();
      for (const e of x.c.etcd) await e.kill();
      await sleep(1000);
      await Promise.all(x.c.etcd.map((e) => e.start()));
      const order = [0, 1, 2].sort(() => Math.random() - 0.5);
      x.log(`cold start order: ${order.map((i) => `n${i + 1}`).join(" ")}`);
      await Promise.all(
        order.map(async (i, k) => {
          await sleep(k * 700);
          await x.c.nodes[i]!.start();
        }),
      );
    },
  },
  {
    name: "disk-full",
    what: "fill n1's data dir (a small tmpfs) to the last byte, free it again",
    needs: ["netns", "disk"],
    async fault(x) {
      x.c.fillDisk!(0);
      await sleep(x.faultMs);
      x.c.freeDisk!(0);
    },
  },
];

export interface ScenarioOptions {
  nemesis: Nemesis;
  start: () => Promise<ChaosCluster>;
  cycles: number;
  warmupMs: number;
  faultMs: number;
  recoverMs: number;
  leaseTtlMs: number;
  publishers: number;
  window: number;
  rate: number;
  drainTimeoutMs?: number;
  log?: (s: string) => void;
  etcdLeaderOnVictim?: boolean;
}

export interface ScenarioResult {
  nemesis: string;
  target: string;
  mode: string;
  verdict: Verdict;
  durationMs: number;
  loadavg: number;
  /** per fault cycle: the largest confirm gap on q1 (the leader's queue) in that cycle */
  failoverMs: number[];
  /** the same for q2 (the other quorum queue, declared through n2) */
  failoverQ2Ms: number[];
  /** when each fault began and ended, ms since the workload started */
  faults: [number, number][];
  error?: string;
  /** the whole history (to write out when something was lost) */
  history: History;
}

async function mgmtGet<T>(mgmtUrl: string, path: string): Promise<T> {
  const u = new URL(mgmtUrl);
  const auth = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString("base64")}`;
  const r = await fetch(`http://${u.host}${path}`, { headers: { authorization: auth }, signal: AbortSignal.timeout(2000) });
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return (await r.json()) as T;
}

export function skipReason(n: Nemesis, c: { canPartition: boolean; etcd: unknown[]; fillDisk?: unknown }): string | undefined {
  for (const need of n.needs ?? []) {
    if (need === "netns" && !c.canPartition) return "needs netns (root) and the warren target";
    if (need === "etcd" && c.etcd.length === 0) return "no etcd in this target";
    if (need === "disk" && !c.fillDisk) return "needs a tmpfs data dir";
  }
  return undefined;
}

/** the largest gap between a queue's confirms from `from` until now (the cycle's failover time) */
function gapSince(h: History, queue: string, from: number): number {
  const times = [...h.publishes.values()]
    .filter((p) => p.queue === queue && p.outcome === "ok" && p.doneAt >= from)
    .map((p) => p.doneAt)
    .sort((a, b) => a - b);
  let gap = 0;
  let prev = from;
  for (const t of times) {
    gap = Math.max(gap, t - prev);
    prev = t;
  }
  return Math.max(gap, Date.now() - prev);
}

export async function runScenario(o: ScenarioOptions): Promise<ScenarioResult> {
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const c = await o.start();
  const h = newHistory();
  const run = `chaos-${o.nemesis.name}-${Date.now().toString(36)}`;
  const queues = [`${run}-q1`, `${run}-q2`, `${run}-c1`];
  const paused = new Set<number>();
  const failoverMs: number[] = [];
  const failoverQ2Ms: number[] = [];
  const faults: [number, number][] = [];
  let error: string | undefined;
  const usable = (): number[] => c.nodes.map((n, i) => (n.running() && !paused.has(i) ? i : -1)).filter((i) => i >= 0);
  const leader = async (qi = 0): Promise<number> => {
    for (let tries = 0; tries < 100; tries++) {
      for (const i of usable()) {
        try {
          const q = await mgmtGet<{ leader?: string; node?: string }>(c.nodes[i]!.mgmtUrl, `/api/queues/%2F/${encodeURIComponent(queues[qi]!)}`);
          const name = q.leader ?? q.node;
          const idx = c.nodes.findIndex((n) => n.name === name);
          if (idx >= 0) return idx;
        } catch {}
      }
      await sleep(200);
    }
    throw new Error(`no node names a leader for ${queues[qi]}`);
  };
  try {
    for (let i = 0; i < queues.length; i++) {
      const conn = await amqp.connect(c.nodes[i]!.url);
      const ch = await conn.createChannel();
      await ch.assertQueue(queues[i]!, { durable: true, ...(i < 2 ? { arguments: { "x-queue-type": "quorum" } } : {}) });
      await conn.close();
    }
    const w = startWorkload(
      {
        urls: c.nodes.map((n) => n.url),
        queues,
        publishers: o.publishers,
        window: o.window,
        rate: o.rate,
        consumerNode: (qi) => (qi + 1) % 3,
        log,
      },
      h,
    );
    try {
      await sleep(o.warmupMs);
      for (let k = 0; k < o.cycles; k++) {
        const f0 = Date.now();
        log(`${o.nemesis.name}: fault ${k + 1}/${o.cycles}`);
        await o.nemesis.fault({ c, leader, faultMs: o.faultMs, leaseTtlMs: o.leaseTtlMs, paused, log, etcdLeaderOnVictim: o.etcdLeaderOnVictim ?? false });
        faults.push([f0 - h.window[0], Date.now() - h.window[0]]);
        h.faults.push([f0, Date.now()]);
        await sleep(o.recoverMs);
        failoverMs.push(gapSince(h, queues[0]!, f0));
        failoverQ2Ms.push(gapSince(h, queues[1]!, f0));
      }
    } catch (e) {
      error = (e as Error).message;
      log(`nemesis failed: ${error}`);
    }
    // heal everything, bring every node back
    c.heal();
    for (const i of paused) c.nodes[i]!.resume();
    paused.clear();
    for (const e of c.etcd) if (!e.running()) await e.start();
    for (const n of c.nodes) if (!n.running()) await n.start();
    if (c.freeDisk) c.freeDisk(0);
    const allUp = async (): Promise<boolean> => {
      for (const n of c.nodes) {
        try {
          const nodes = await mgmtGet<{ name: string; running: boolean }[]>(n.mgmtUrl, "/api/nodes");
          if (nodes.length < c.nodes.length || !nodes.every((x) => x.running)) return false;
        } catch {
          return false;
        }
      }
      return true;
    };
    for (let until = Date.now() + 60_000; !(await allUp()) && Date.now() < until; ) await sleep(250);
    await w.stopPublishing(15_000);
    // drain: until every queue is empty and nothing was delivered for 2 s
    const drainUntil = Date.now() + (o.drainTimeoutMs ?? 60_000);
    let left = "";
    for (;;) {
      let empty = false;
      try {
        // ask each queue's leader/home: a warren node that does not hold a classic queue counts
        // only what it pulled for its own consumers
        const counts: (number | undefined)[] = [];
        for (let qi = 0; qi < queues.length; qi++) {
          const at = await leader(qi);
          const x = await mgmtGet<{ messages?: number }>(c.nodes[at]!.mgmtUrl, `/api/queues/%2F/${encodeURIComponent(queues[qi]!)}`);
          counts.push(x.messages);
        }
        left = queues.map((q, qi) => `${q}=${counts[qi] ?? "?"}`).join(" ");
        empty = counts.every((n) => n === 0);
      } catch {}
      if (empty && Date.now() - w.lastDeliveryAt() > 2000) break;
      if (Date.now() > drainUntil) {
        error = error ?? `drain timed out: ${left}`;
        log(`drain timed out: ${left}`);
        break;
      }
      await sleep(250);
    }
    await w.stopConsuming();
  } catch (e) {
    error = error ?? (e as Error).message;
  } finally {
    await c.stop();
  }
  return {
    nemesis: o.nemesis.name,
    target: c.target,
    mode: c.mode,
    verdict: check(h),
    durationMs: Date.now() - t0,
    loadavg: os.loadavg()[0]!,
    failoverMs,
    failoverQ2Ms,
    faults,
    history: h,
    ...(error ? { error } : {}),
  };
}

export function formatTable(rs: ScenarioResult[]): string {
  const head = ["nemesis", "target", "published", "confirmed", "nacked", "unknown", "lost", "unexpected", "dup", "acked back", "recovered", "order", "q1 gap ms", "q2 gap ms", "c1 gap ms", "load"];
  const rows = rs.map((r) => {
    const v = r.verdict;
    const g = (i: number): string => String(v.queues.find((q) => q.queue.endsWith(["-q1", "-q2", "-c1"][i]!))?.maxGapMs ?? "-");
    return [
      r.nemesis + (r.error ? " (!)" : ""),
      `${r.target}/${r.mode}`,
      v.published,
      v.ok,
      v.fail,
      v.info,
      v.lost,
      v.unexpected,
      v.duplicated,
      v.ackedBack,
      v.recovered,
      v.orderViolations,
      g(0),
      g(1),
      g(2),
      r.loadavg.toFixed(1),
    ].map(String);
  });
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(w[i]!)).join(" | ")} |`;
  return [line(head), `|${w.map((n) => "-".repeat(n + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}
