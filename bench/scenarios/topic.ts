/**
 * s9: a topic exchange with 10,000 bindings over 100 queues — half exact
 * three-word keys, the rest `a.*.c`, `a.#` and `#.c` patterns — and a
 * publisher cycling through 1,000 routing keys, each built from one binding
 * so that every message routes somewhere. Routed msgs/s = deliveries/s ÷ the
 * average number of queues a key reaches, which the bench computes itself
 * with its own matcher (below) over the same bindings.
 */
import * as C from "../wire/codec.js";
import { measureThroughput, parallelCalls, uniqueName, withTopology } from "./common.js";
import type { Scenario } from "./types.js";

const QUEUES = 100;
const BINDINGS = 10_000;
const KEYS = 1000;
/** words per position: large enough that `a.#` and `#.c` patterns do not turn routing into fanout */
const VOCAB = 10_000;

/** small deterministic PRNG (mulberry32) so both brokers get identical bindings and keys */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function topicMatches(pattern: string[], key: string[], pi = 0, ki = 0): boolean {
  if (pi === pattern.length) return ki === key.length;
  const p = pattern[pi]!;
  if (p === "#") {
    for (let k = ki; k <= key.length; k++) if (topicMatches(pattern, key, pi + 1, k)) return true;
    return false;
  }
  if (ki === key.length) return false;
  return (p === "*" || p === key[ki]) && topicMatches(pattern, key, pi + 1, ki + 1);
}

export function topicWorkload(): { bindings: [number, string][]; keys: string[]; fanout: number } {
  const rnd = prng(42);
  const w = (prefix: string) => `${prefix}${Math.floor(rnd() * VOCAB)}`;
  const bindings: [number, string][] = [];
  for (let i = 0; i < BINDINGS; i++) {
    const r = rnd();
    const key = r < 0.5 ? `${w("a")}.${w("b")}.${w("c")}` : r < 0.7 ? `${w("a")}.*.${w("c")}` : r < 0.85 ? `${w("a")}.#` : `#.${w("c")}`;
    bindings.push([i % QUEUES, key]);
  }
  const keys: string[] = [];
  for (let i = 0; i < KEYS; i++) {
    const words = bindings[Math.floor(rnd() * BINDINGS)]![1].split(".");
    keys.push(words.flatMap((x) => (x === "*" ? [w("m")] : x === "#" ? Array.from({ length: Math.floor(rnd() * 3) }, () => w("h")) : [x])).join("."));
  }
  const parsed = bindings.map(([q, k]) => [q, k.split(".")] as const);
  let routed = 0;
  for (const k of keys) {
    const kw = k.split(".");
    const qs = new Set<number>();
    for (const [q, p] of parsed) if (!qs.has(q) && topicMatches(p, kw)) qs.add(q);
    routed += qs.size;
  }
  return { bindings, keys, fanout: routed / keys.length };
}

export const s9: Scenario = {
  id: "s9",
  title: "topic exchange, 10,000 bindings (exact, *, #) over 100 queues, 16 B, no-ack",
  metrics: () => [
    { key: "routed", label: "routed msgs/s", unit: "msg/s", better: "higher", targetRatio: 2 },
    { key: "deliveries", label: "deliveries/s", unit: "msg/s", better: "higher" },
  ],
  run: async (b, o) => {
    const { bindings, keys, fanout } = topicWorkload();
    const x = uniqueName("bench-s9-x");
    const queues = Array.from({ length: QUEUES }, (_, i) => `${x}-q${i}`);
    return withTopology(b.url, { queues, exchanges: [{ name: x, type: "topic" }] }, async (c) => {
      await parallelCalls(c, bindings, 16, ([q, k], ch) => c.call(C.queueBind(ch, queues[q]!, x, k), ch, C.M.queueBindOk));
      const r = await measureThroughput({ url: b.url, brokerPid: await b.pid(), queues, exchange: x, routingKeys: keys, bodySize: 16, noAck: true, consumerConnections: 4, fanout }, o);
      return { routed: r.consumedPerSec / fanout, deliveries: r.consumedPerSec };
    });
  },
};
