/**
 * /api/nodes on a 3-node cluster, warren against RabbitMQ 3.10, key by key (issue #14):
 *
 *   node dist/bench/nodes-compare.js
 *
 * Starts both 3-node clusters (test/chaos/targets.ts), asks node 1 of each for /api/nodes, and
 * prints, for the answering node's own entry and for another node's entry, the top-level keys
 * RabbitMQ has and warren lacks, and those warren has and RabbitMQ lacks; also whether the
 * value types agree on the shared keys.
 */
import { startRabbitCluster, startWarrenCluster, type ChaosCluster } from "../test/chaos/targets.js";

type Entry = Record<string, unknown>;

async function nodes(c: ChaosCluster): Promise<Entry[]> {
  const u = new URL(c.nodes[0]!.mgmtUrl);
  const auth = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString("base64")}`;
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`http://${u.host}/api/nodes`, { headers: { authorization: auth } });
    const body = (await r.json()) as Entry[];
    if (body.length === 3 && body.every((n) => n["running"] === true)) return body;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error("3 running nodes never listed");
}

const kind = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

function compare(label: string, rmq: Entry, warren: Entry): string[] {
  const rk = Object.keys(rmq).sort();
  const wk = new Set(Object.keys(warren));
  const missing = rk.filter((k) => !wk.has(k));
  const extra = [...wk].filter((k) => !(k in rmq)).sort();
  const types = rk.filter((k) => wk.has(k) && kind(rmq[k]) !== kind(warren[k])).map((k) => `${k} (${kind(rmq[k])} vs ${kind(warren[k])})`);
  return [
    `${label}: RabbitMQ ${rk.length} keys, warren ${wk.size}; shared ${rk.length - missing.length}`,
    `  missing in warren (${missing.length}): ${missing.join(", ") || "-"}`,
    `  only in warren (${extra.length}): ${extra.join(", ") || "-"}`,
    `  type differs: ${types.join(", ") || "-"}`,
  ];
}

async function main(): Promise<void> {
  const w = await startWarrenCluster({ mode: "loopback", etcdMembers: 1 });
  let wn: Entry[];
  try {
    wn = await nodes(w);
  } finally {
    await w.stop();
  }
  const r = await startRabbitCluster();
  let rn: Entry[];
  try {
    rn = await nodes(r);
  } finally {
    await r.stop();
  }
  const self = (xs: Entry[], name: string): Entry => xs.find((x) => x["name"] === name)!;
  const other = (xs: Entry[], name: string): Entry => xs.find((x) => x["name"] !== name)!;
  const out = [
    ...compare("the answering node's own entry", self(rn, r.nodes[0]!.name), self(wn, w.nodes[0]!.name)),
    ...compare("another node's entry", other(rn, r.nodes[0]!.name), other(wn, w.nodes[0]!.name)),
  ];
  process.stdout.write(`${out.join("\n")}\n`);
}

main().catch((e) => {
  process.stderr.write(`nodes-compare: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
