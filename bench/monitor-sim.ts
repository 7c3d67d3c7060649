/**
 * Simulated monitored hosts for the m1 bench: one child process runs many
 * hosts, each with its own real AMQP connection (amqplib, as the agent), which
 * announces itself on fleet.presence (group `bench`) and then publishes one
 * metric batch per tick to fleet.metrics (key metrics.<host>, user_id set),
 * spread over the interval by host. Hosts whose index is a multiple of
 * `breachEvery` send item i0 = 95 on ticks 3, 4 and 5 (the rule's 3rd breach
 * fires at tick 5) and 50 otherwise.
 *
 *   node dist/bench/monitor-sim.js URL PREFIX FROM TO ITEMS INTERVAL_MS RAMP_PER_100MS BREACH_EVERY
 *
 * Prints "ready N" once every host is connected; runs until SIGTERM.
 */
import amqp, { type Channel, type ChannelModel } from "amqplib";

const [url, prefix, fromS, toS, itemsS, intervalS, rampS, breachS] = process.argv.slice(2);
const from = Number(fromS);
const to = Number(toS);
const items = Number(itemsS);
const interval = Number(intervalS);
const ramp = Number(rampS);
const breachEvery = Number(breachS);
const user = decodeURIComponent(new URL(url!).username) || "guest";
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Host {
  name: string;
  idx: number;
  conn: ChannelModel;
  ch: Channel;
  seq: number;
  tick: number;
}
const hosts: Host[] = [];

async function open(idx: number): Promise<void> {
  const name = `${prefix}${idx}`;
  for (let attempt = 0; ; attempt++) {
    try {
      const conn = await amqp.connect(url!, { clientProperties: { connection_name: `bench ${name}` } });
      conn.on("error", () => {});
      const ch = await conn.createChannel();
      ch.on("error", () => {});
      const presence = {
        kind: "presence",
        host: name,
        groups: ["bench"],
        state: "online",
        heartbeatMs: 3_600_000,
        facts: { hostname: name, os: "linux", arch: "x64", release: "", addresses: [], agentVersion: "bench", concurrency: 1 },
        at: Date.now(),
      };
      ch.publish("fleet.presence", "", Buffer.from(JSON.stringify(presence)), { userId: user, contentType: "application/json" });
      hosts.push({ name, idx, conn, ch, seq: Date.now(), tick: 0 });
      return;
    } catch (e) {
      if (attempt > 20) throw e;
      await sleep(200 * (attempt + 1));
    }
  }
}

function publish(h: Host): void {
  const t = Date.now();
  h.tick++;
  const s: Record<string, number> = {};
  const breach = breachEvery > 0 && h.idx % breachEvery === 0 && h.tick >= 3 && h.tick <= 5;
  for (let i = 0; i < items; i++) s[`i${i}`] = i === 0 ? (breach ? 95 : 50) : Math.round(Math.random() * 10_000) / 100;
  const body = Buffer.from(JSON.stringify({ v: 1, kind: "metrics", host: h.name, rev: "bench", t, seq: ++h.seq, s }));
  try {
    h.ch.publish("fleet.metrics", `metrics.${h.name}`, body, { userId: user, contentType: "application/json" });
  } catch {
    /* connection lost: the bench reports what was stored */
  }
}

async function main(): Promise<void> {
  for (let i = from; i < to; i += ramp) {
    await Promise.all(Array.from({ length: Math.min(ramp, to - i) }, (_, k) => open(i + k)));
    await sleep(100);
  }
  process.stdout.write(`ready ${hosts.length}\n`);
  // each host ticks every `interval`, phase-shifted by its index (as agents are, by name hash)
  for (const h of hosts) {
    const phase = Math.floor((((h.idx * 7919) % 1000) / 1000) * interval);
    setTimeout(() => {
      publish(h);
      setInterval(() => publish(h), interval);
    }, phase);
  }
  process.on("SIGTERM", () => {
    void Promise.all(hosts.map((h) => h.conn.close().catch(() => {}))).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 5000).unref();
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
