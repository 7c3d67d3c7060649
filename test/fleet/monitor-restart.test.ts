/**
 * Fleet monitoring across a broker restart (issue 13): the broker (a `warren server` process
 * this test owns, so it is skipped against an external broker) is killed with SIGKILL and
 * started again on the same port and data directory while an agent keeps sampling and a
 * publisher floods fleet.metrics. Collector and agent are separate processes that reconnect on
 * their own. Checked: a firing alert stays firing once (no second `firing`, no resolve, no
 * nodata because the broker was away), the agent's samples resume and the alert resolves on
 * the first recovery after the restart; the collector keeps consuming metrics after the
 * reconnect. (Its metrics buffer is now tied to the channel the deliveries came on; the race
 * this guards against — a flush pending from the old channel acking the new one's deliveries —
 * needs a reconnect within the 50 ms flush window, which this test cannot force: it checks
 * the outcome, with a flood so that a flush is pending when the broker dies.)
 *
 * A second test kills the collector right after it repeated a notification: the next repeat
 * still waits its interval (repeat times are stored with the repeat, not kept in memory).
 *
 * RabbitMQ behaviour this relies on: a durable queue and its bindings survive a broker
 * restart; delivery tags are per channel (an ack on another channel is not an ack).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import amqp from "amqplib";
import { startBrokerProcess, tempDir, type BrokerProcess } from "../helpers/broker.js";
import { freePort } from "../cluster/helpers.js";
import { cli, startFleet, until, type FleetProc } from "./procs.js";
import { FleetClient } from "../../src/fleet/rpc.js";
import { loadPrivateKey } from "../../src/fleet/sign.js";
import type { AlertEvent } from "../../src/fleet/monitor/protocol.js";

const skip = process.env.WARREN_TEST_URL ? "needs a broker this test can kill and restart" : false;
let dir: string;
let port: number;
let broker: BrokerProcess | undefined;
let collector: FleetProc | undefined;
let agent: FleetProc | undefined;
let url: string;
const common = (): string[] => ["--url", url, "--data-dir", dir];

function setValue(v: number): void {
  writeFileSync(join(dir, "values", "web1.tmp"), `${v}\n`);
  renameSync(join(dir, "values", "web1.tmp"), join(dir, "values", "web1"));
}

interface Sample {
  t: number;
  v: number;
  seq: number | null;
}
async function samples(client: FleetClient): Promise<Sample[]> {
  return (await client.call<{ samples: Sample[] }>("metrics.series", { host: "web1", item: "val", sinceMs: 3_600_000 })).samples;
}
async function events(client: FleetClient): Promise<AlertEvent[]> {
  return (await client.call<{ events: AlertEvent[] }>("alerts.list", { afterId: 0, limit: 1000 })).events;
}
async function openClient(): Promise<FleetClient> {
  const c = await FleetClient.open(url);
  c.signAs(loadPrivateKey(join(dir, "fleet", "operator.key")), "restart-test");
  return c;
}
const startBroker = (): Promise<BrokerProcess> => startBrokerProcess(join(dir, "broker"), ["--port", String(port), "--mgmt-port", "off", "--prometheus-port", "off", "--no-fleet"]);

before(async () => {
  if (skip) return;
  dir = tempDir("warren-monitor-restart-");
  mkdirSync(join(dir, "values"));
  mkdirSync(join(dir, "templates"));
  mkdirSync(join(dir, "broker"));
  port = await freePort();
  broker = await startBroker();
  url = broker.url;
  writeFileSync(
    join(dir, "templates", "t.yaml"),
    `name: restart-web
interval: 1s
items:
  val: {cmd: "cat ${join(dir, "values")}/$FLEET_HOST", timeout: 2s}
rules:
  - {name: val-high, item: val, when: "> 80", count: 3, within: 10s, recover: "< 70", recover_count: 2}
assign:
  groups: [web]
`,
  );
  setValue(50);
  collector = startFleet("collector", ["--nodata-grace", "2s", ...common()]);
  await collector.waitLog(/collector consuming/);
  agent = startFleet("agent", ["--name", "web1", "--groups", "web", "--heartbeat", "2s", "--grace", "1s", ...common()]);
  await agent.waitLog(/ready on/);
  const r = await cli(["template", "apply", join(dir, "templates"), ...common()]);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  await agent?.stop();
  await collector?.stop();
  await broker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("a broker restart: the firing alert stays firing once, samples resume, the collector keeps consuming, recovery resolves it", { skip, timeout: 180_000 }, async () => {
  let client = await openClient();
  await until("first samples", async () => (await samples(client)).length >= 2, 30_000);
  setValue(90);
  const fired = await until("val-high fires", async () => (await events(client)).find((e) => e.host === "web1" && e.rule === "val-high" && e.state === "firing"), 30_000);
  await client.close();

  // A publisher floods fleet.metrics (batches the collector must drop: no user_id) so that the
  // collector always has deliveries buffered and a flush pending when the broker goes away.
  let flooding = true;
  const flood = (async () => {
    const body = Buffer.from(JSON.stringify({ v: 1, kind: "metrics", host: "flood", rev: "x", t: Date.now(), seq: 1, s: { val: 1 } }));
    while (flooding) {
      try {
        const conn = await amqp.connect(url);
        conn.on("error", () => {});
        const ch = await conn.createConfirmChannel();
        ch.on("error", () => {});
        while (flooding) {
          for (let i = 0; i < 20; i++) ch.publish("fleet.metrics", "metrics.flood", body);
          await ch.waitForConfirms();
        }
        await conn.close();
      } catch {
        await new Promise((r) => setTimeout(r, 100)); // broker away: try again
      }
    }
  })();
  await new Promise((r) => setTimeout(r, 500)); // let the flood reach the collector
  await broker!.kill();
  const downAt = Date.now();
  broker = await startBroker();
  await agent!.waitLog(/ready on[\s\S]*ready on/, 60_000); // the agent's second session
  await collector!.waitLog(/collector consuming[\s\S]*collector consuming/, 60_000);

  client = await openClient();
  try {
    // Samples taken after the restart are stored: the collector consumes on its new channel.
    await until("10 samples of web1 taken after the restart", async () => (await samples(client)).filter((s) => s.t > downAt).length >= 10, 60_000);
    flooding = false;
    await flood;
    let ev = (await events(client)).filter((e) => e.host === "web1" && e.rule === "val-high");
    assert.deepEqual(
      ev.map((e) => e.state),
      ["firing"],
      "still the one firing event: no resolve, no second firing",
    );
    assert.equal(ev[0]!.id, fired.id);
    const all = await events(client);
    assert.ok(!all.some((e) => e.host === "web1" && e.state === "nodata"), "no nodata because the broker was away");
    // the rule's state went on: recovery after the restart resolves the alert it had before
    setValue(50);
    ev = await until(
      "val-high resolves",
      async () => {
        const x = (await events(client)).filter((e) => e.host === "web1" && e.rule === "val-high");
        return x.some((e) => e.state === "resolved") ? x : undefined;
      },
      30_000,
    );
    assert.deepEqual(
      ev.map((e) => e.state),
      ["firing", "resolved"],
    );
  } finally {
    flooding = false;
    await flood;
    await client.close();
  }
});

test("a collector SIGKILL right after a webhook repeat: the next repeat still waits for its interval", { skip, timeout: 180_000 }, async () => {
  const REPEAT_MS = 12_000;
  const posts: Array<{ at: number; ids: string[] }> = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      const j = JSON.parse(body) as { alerts: Array<{ annotations: Record<string, string> }> };
      posts.push({ at: Date.now(), ids: j.alerts.map((a) => a.annotations["event_id"] ?? "") });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const client = await openClient();
  try {
    const hook = `http://127.0.0.1:${(server.address() as AddressInfo).port}/repeat`;
    const w = await cli(["alerts", "webhook", "add", hook, "--group-wait", "0s", "--repeat", `${REPEAT_MS / 1000}s`, ...common()]);
    assert.equal(w.code, 0, w.stderr);
    const before = (await events(client)).length;
    setValue(90);
    const fired = await until("val-high fires again", async () => (await events(client)).slice(before).find((e) => e.host === "web1" && e.state === "firing"), 30_000);
    const of = (): Array<{ at: number }> => posts.filter((p) => p.ids.includes(String(fired.id)));
    await until("the firing notification and its first repeat", async () => of().length >= 2, 60_000);
    const repeatedAt = of()[1]!.at;
    await collector!.kill();
    collector = startFleet("collector", ["--nodata-grace", "2s", ...common()]);
    await collector.waitLog(/collector consuming/);
    await until("the second repeat", async () => of().length >= 3, 60_000);
    const gap = of()[2]!.at - repeatedAt;
    // Lower bound only (a slow machine makes the gap longer, never shorter): before repeat times
    // were stored, the restarted collector repeated at once, counting from the firing event.
    assert.ok(gap >= REPEAT_MS / 2, `the repeat after the restart came ${gap} ms after the one before it (interval ${REPEAT_MS} ms)`);
  } finally {
    setValue(50);
    await client.close();
    server.close();
  }
});
