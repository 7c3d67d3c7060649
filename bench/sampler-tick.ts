/**
 * The management sampler's cost: one Rates.tick (src/http/rates.ts) over collect()
 * (src/http/stats.ts) for a broker holding N queues and N connections of one channel each, the
 * shape of a 10,000-host fleet. The tick runs on the broker's event loop every 5 s, so its
 * duration is a stall every client sees. The broker here is a plain object with the fields
 * collect() reads (no sockets), so the figure is the sampler's own CPU.
 *
 *   node dist/bench/sampler-tick.js [N]      # default 10000; prints min / median / max of 15 ticks
 */
import { Rates } from "../src/http/rates.js";
import { collect } from "../src/http/stats.js";
import type { Broker } from "../src/broker/broker.js";

const n = Number(process.argv[2] ?? 10_000);
const queueStats = () => ({ publish: 1, deliver: 2, deliverNoAck: 0, get: 0, getNoAck: 0, getEmpty: 0, ack: 2, redeliver: 0 });
const queues = new Map<string, { vhost: string; name: string; stats: ReturnType<typeof queueStats>; messageCount: number; unacked: number; remote: null }>();
for (let i = 0; i < n; i++) queues.set(`fleet.host.h${i}`, { vhost: "/", name: `fleet.host.h${i}`, stats: queueStats(), messageCount: 0, unacked: 0, remote: null });
const exchanges = new Map<string, { vhost: string; name: string; publishIn: number; publishOut: number }>();
for (let i = 0; i < 10; i++) exchanges.set(`x${i}`, { vhost: "/", name: `x${i}`, publishIn: 1, publishOut: 1 });
const vhost = { name: "/", queues, exchanges, stats: { publish: 1, confirm: 1, returnUnroutable: 0, dropUnroutable: 0 } };
const channelStats = () => ({
  publish: 1,
  deliver: 1,
  deliver_no_ack: 0,
  ack: 1,
  get: 0,
  get_no_ack: 0,
  get_empty: 0,
  deliver_get: 1,
  redeliver: 0,
  confirm: 1,
  return_unroutable: 0,
  drop_unroutable: 0,
});
const connections = new Set<unknown>();
for (let i = 0; i < n; i++) {
  const name = `127.0.0.1:${10000 + (i % 50000)} -> 127.0.0.1:5672 #${i}`;
  connections.add({ name, vhostName: "/", openChannels: 1, octets: () => ({ recv: 100, send: 200 }), channelStats: () => [{ name: `${name} (1)`, stats: channelStats() }] });
}
const totals = { publish: 0, confirmed: 0, getEmpty: 0, returnUnroutable: 0, dropUnroutable: 0, deliver: 0, ack: 0, get: 0, redeliver: 0 };
const broker = {
  vhosts: new Map([["/", vhost]]),
  connections,
  totals: { ...totals, connectionsCreated: n, channelsCreated: n, queuesDeclared: n, queuesDeleted: 0 },
  store: null,
  resourceLimits: { memoryHighWatermark: 0, diskFreeLimit: 0, dataDir: process.cwd() },
} as unknown as Broker;

const rates = new Rates(() => collect(broker), 5000);
const ms: number[] = [];
for (let i = 0; i < 15; i++) {
  for (const q of queues.values()) q.stats.deliver++;
  const t0 = performance.now();
  rates.tick(Date.now() + i * 5000);
  ms.push(performance.now() - t0);
}
ms.sort((a, b) => a - b);
console.log(`sampler tick, ${n} queues + ${n} connections (1 channel each): min ${ms[0]!.toFixed(1)} ms, median ${ms[7]!.toFixed(1)} ms, max ${ms[14]!.toFixed(1)} ms`);
