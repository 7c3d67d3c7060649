/**
 * Fleet monitoring end to end (issue 13), every actor a separate process: the
 * collector, three agents (web1, web2 in group web; db1 in group db) and CLI
 * invocations, through the test broker — a real RabbitMQ when WARREN_TEST_URL /
 * WARREN_TEST_MGMT_URL are set (CI step 3). Metric values are the test's: a
 * command item `cat VALUES/$FLEET_HOST` reads a file the test writes, and every
 * step waits for the samples it needs to be stored (by count and value, with
 * their seq), never for time. Alert events are checked against an independent
 * oracle run over the stored samples, so "fires on exactly the Nth breach" and
 * "no transition lost or repeated across a collector SIGKILL" are exact checks.
 *
 * RabbitMQ behaviour this relies on (and so pins): topic routing of
 * `metrics.<host>` / `alert.#`, user_id validation of published messages, a
 * durable queue keeping a push while its consumer is away, purge through the
 * management API.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import amqp, { type Channel, type ChannelModel } from "amqplib";
import { startBroker, tempDir, type TestBroker } from "../helpers/broker.js";
import { cli, mgmt, privateVhost, startFleet, until, type FleetProc, type Vhost } from "./procs.js";
import { FleetClient } from "../../src/fleet/rpc.js";
import { loadPrivateKey, signPayload } from "../../src/fleet/sign.js";
import type { AlertEvent, ConfigPayload } from "../../src/fleet/monitor/protocol.js";
import type { EffectiveTemplate } from "../../src/fleet/monitor/template.js";

let broker: TestBroker;
let vh: Vhost;
let dir: string;
let collector: FleetProc;
let client: FleetClient;
let sub: { conn: ChannelModel; ch: Channel; metrics: Array<{ rk: string; host: string; userId: string | undefined }>; alerts: AlertEvent[] };
let hook: {
  server: Server;
  url: string;
  repeats: Array<{ alerts: Array<{ annotations: Record<string, string> }> }>;
  posts: Array<{ status: number; body: { status: string; alerts: Array<{ status: string; labels: Record<string, string>; annotations: Record<string, string> }> } }>;
  failNext: number;
};
let pika: ChildProcess | undefined;
let pikaOut = "";
const agents = new Map<string, FleetProc>();
const GROUPS: Record<string, string> = { web1: "web", web2: "web", db1: "db" };
const values = (): string => join(dir, "values");
const common = (): string[] => ["--url", vh.url, "--data-dir", dir];

function setValue(host: string, v: number | null): void {
  const f = join(values(), host);
  if (v === null) return rmSync(f, { force: true });
  writeFileSync(f + ".tmp", `${v}\n`);
  renameSync(f + ".tmp", f); // the agent's `cat` sees the old or the new value, never half of it
}

async function startAgent(name: string): Promise<FleetProc> {
  // a long heartbeat: a template arriving quickly is the push, not the heartbeat safety net
  const a = startFleet("agent", ["--name", name, "--groups", GROUPS[name]!, "--heartbeat", "60s", "--grace", "1s", ...common()]);
  agents.set(name, a);
  await a.waitLog(/ready on/);
  return a;
}

async function startCollector(): Promise<FleetProc> {
  const args = ["--nodata-grace", "2s", ...common()];
  if (vh.mgmtUrl) args.push("--http-port", "0", "--mgmt-url", vh.mgmtUrl);
  collector = startFleet("collector", args);
  await collector.waitLog(/collector consuming/);
  return collector;
}

interface Sample {
  t: number;
  v: number;
  seq: number | null;
}
async function samples(host: string, item = "val"): Promise<Sample[]> {
  const r = await client.call<{ samples: Sample[] }>("metrics.series", { host, item, sinceMs: 3_600_000 });
  return r.samples;
}
async function events(): Promise<AlertEvent[]> {
  return (await client.call<{ events: AlertEvent[] }>("alerts.list", { afterId: 0, limit: 1000 })).events;
}
/** Wait until `n` more samples with value v than `after` are stored for host. */
async function waitSamples(host: string, pred: (s: Sample[]) => boolean, what: string, ms = 30_000): Promise<Sample[]> {
  return until(
    `${host}: ${what}`,
    async () => {
      const s = await samples(host);
      return pred(s) ? s : undefined;
    },
    ms,
  );
}
const countValue = (s: Sample[], v: number, since = 0): number => s.filter((x) => x.t > since && x.v === v).length;
const last = (s: Sample[]): number => s[s.length - 1]?.t ?? 0;

/**
 * The rule, evaluated independently over the stored samples: val > 80 three times within 10 s
 * fires; while firing, two consecutive samples < 70 resolve. Returns [state, seq] per transition.
 */
function oracle(s: Sample[]): Array<[string, number | null]> {
  const out: Array<[string, number | null]> = [];
  let firing = false;
  let breaches: number[] = [];
  let run = 0;
  for (const x of s) {
    if (!firing) {
      if (x.v > 80) breaches.push(x.t);
      breaches = breaches.filter((t) => t > x.t - 10_000);
      if (breaches.length >= 3) (firing = true), (breaches = []), (run = 0), out.push(["firing", x.seq]);
    } else if (x.v < 70) {
      if (++run >= 2) (firing = false), (run = 0), out.push(["resolved", x.seq]);
    } else run = 0;
  }
  return out;
}
const transitions = (ev: AlertEvent[], host: string): Array<[string, number | null]> => ev.filter((e) => e.rule === "val-high" && e.host === host && e.seq !== null).map((e) => [e.state, e.seq]);

before(async () => {
  broker = await startBroker({ mgmt: true });
  vh = await privateVhost(broker.url, broker.mgmtUrl);
  dir = tempDir("warren-monitor-");
  mkdirSync(values());
  mkdirSync(join(dir, "templates"));
  // The seed's template: a command item (the test's value) and a built-in, a count rule with hysteresis.
  writeFileSync(
    join(dir, "templates", "test-web.yaml"),
    `name: test-web
interval: 1s
items:
  val: {cmd: "cat ${values()}/$FLEET_HOST", timeout: 2s}
  load1: {collector: load, field: "1"}
rules:
  - name: val-high
    item: val
    when: "> 80"
    count: 3
    within: 10s
    recover: "< 70"
    recover_count: 2
    severity: warning
    flap: {count: 10, within: 1h}
assign:
  groups: [web]
`,
  );
  writeFileSync(join(dir, "templates", "test-db.json"), JSON.stringify({ name: "test-db", interval: "1s", items: { "mem.used_pct": { collector: "memory" } }, assign: { groups: ["db"] } }));
  for (const h of Object.keys(GROUPS)) setValue(h, 50);
  await startCollector();
  client = await FleetClient.open(vh.url);
  client.signAs(loadPrivateKey(join(dir, "fleet", "operator.key")), "monitor-test");
  await Promise.all(Object.keys(GROUPS).map((n) => startAgent(n)));
  await until("hosts known", async () => (await client.call<Array<{ name: string }>>("hosts")).length === 3);
  // A plain amqplib subscriber, as anyone may run one: web1's metrics and every alert.
  const conn = await amqp.connect(vh.url);
  const ch = await conn.createChannel();
  const q = (await ch.assertQueue("", { exclusive: true })).queue;
  await ch.bindQueue(q, "fleet.metrics", "metrics.web1");
  await ch.bindQueue(q, "fleet.alerts", "alert.#");
  sub = { conn, ch, metrics: [], alerts: [] };
  await ch.consume(
    q,
    (m) => {
      if (!m) return;
      const body = JSON.parse(m.content.toString()) as { host: string } & AlertEvent;
      if (m.fields.exchange === "fleet.metrics") sub.metrics.push({ rk: m.fields.routingKey, host: body.host, userId: m.properties.userId as string | undefined });
      else sub.alerts.push(body);
    },
    { noAck: true },
  );
  // A webhook receiver (Alertmanager's JSON); failNext makes the next POSTs fail with 500.
  hook = { server: createServer(), url: "", posts: [], repeats: [], failNext: 0 };
  hook.server.on("request", (req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      if (req.url === "/repeat") return void (hook.repeats.push(JSON.parse(body)), res.writeHead(200).end());
      const status = hook.failNext > 0 ? (hook.failNext--, 500) : 200;
      hook.posts.push({ status, body: JSON.parse(body) });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => hook.server.listen(0, "127.0.0.1", r));
  hook.url = `http://127.0.0.1:${(hook.server.address() as AddressInfo).port}/alerts`;
  const w = await cli(["alerts", "webhook", "add", hook.url, "--group-wait", "4s", ...common()]);
  assert.equal(w.code, 0, w.stderr);
  // pika, the seed's client, subscribed to web2's metrics and to alerts (skipped where pika is missing, as in the interop suite)
  if (spawnSync("/usr/bin/python3", ["-c", "import pika"]).status === 0) {
    const script = `import json, sys, pika
conn = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
ch = conn.channel()
q = ch.queue_declare(queue="", exclusive=True).method.queue
ch.queue_bind(exchange="fleet.metrics", queue=q, routing_key="metrics.web2")
ch.queue_bind(exchange="fleet.alerts", queue=q, routing_key="alert.#")
print("ready", flush=True)
def on_message(c, method, props, body):
    m = json.loads(body)
    print(json.dumps({"x": method.exchange, "rk": method.routing_key, "host": m["host"], "state": m.get("state"), "user": props.user_id}), flush=True)
ch.basic_consume(queue=q, on_message_callback=on_message, auto_ack=True)
ch.start_consuming()
`;
    pika = spawn("/usr/bin/python3", ["-c", script, vh.url.replace(/\/([^/]*)$/, (_m, v: string) => `/${encodeURIComponent(v)}`)], { stdio: ["ignore", "pipe", "pipe"] });
    pika.stdout!.on("data", (d: Buffer) => (pikaOut += d.toString()));
    await until("pika subscriber ready", async () => pikaOut.includes("ready"));
  }
});

after(async () => {
  pika?.kill("SIGKILL");
  await Promise.all([...agents.values()].map((a) => a.stop()));
  await collector?.stop();
  await client?.close();
  await sub?.conn.close().catch(() => {});
  hook?.server.close();
  await vh?.drop();
  await broker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const agentTemplate = (host: string): EffectiveTemplate | undefined => {
  const f = join(dir, "fleet", "agent", host, "template.json");
  return existsSync(f) ? (JSON.parse(readFileSync(f, "utf8")) as { template: EffectiveTemplate }).template : undefined;
};

test("template apply pushes each host's effective template to exactly its group's agents; apply is idempotent", async () => {
  const t0 = Date.now();
  const r = await cli(["template", "apply", join(dir, "templates"), ...common()]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /added test-db, test-web/);
  const want = await client.call<EffectiveTemplate>("template.effective", { host: "web1" });
  assert.deepEqual(want.templates, ["test-web"]);
  assert.ok(
    want.rules.some((x) => x.name === "host-silent"),
    "a built-in nodata rule",
  );
  // heartbeats are 60 s apart: arriving now means it was pushed into the agents' queues
  await until("web agents run the web template", async () => agentTemplate("web1")?.rev === want.rev && agentTemplate("web2")?.templates.join() === "test-web");
  const pushMs = Date.now() - t0;
  await until("db1 runs the db template", async () => agentTemplate("db1")?.templates.join() === "test-db");
  assert.deepEqual(Object.keys(agentTemplate("db1")!.items), ["mem.used_pct"], "db1 never got the web items");
  process.stderr.write(`# template apply → both web agents applied it: ${pushMs} ms (incl. the CLI process)\n`);
  const again = await cli(["template", "apply", join(dir, "templates"), "--json", ...common()]);
  const j = JSON.parse(again.stdout) as { unchanged: string[]; added: string[]; links: { added: number; removed: number } };
  assert.deepEqual([j.unchanged, j.added, j.links], [["test-db", "test-web"], [], { added: 0, removed: 0 }]);
  const eff = await cli(["template", "effective", "web2", ...common()]);
  assert.match(eff.stdout, /item val\s+every 1s\s+cmd: cat /);
  await waitSamples("web1", (s) => s.length >= 2, "first samples");
});

test("fires on exactly the Nth breach within the window, never the (N-1)th; recovers only with hysteresis", async () => {
  const follow = startFleet("alerts", ["--follow", "--json", ...common()]); // `warren alerts --follow`, as a user watches
  // window: one or two breaches, then enough low samples for them to leave the 10 s window
  for (const h of ["web1", "web2"]) setValue(h, 90);
  await waitSamples("web1", (s) => countValue(s, 90) >= 1, "a breach");
  for (const h of ["web1", "web2"]) setValue(h, 50);
  let s = await waitSamples("web1", (x) => x.at(-1)?.v === 50, "back low");
  const lowFrom = last(s);
  await waitSamples("web1", (x) => countValue(x, 50, lowFrom - 1) >= 11, "11 low samples");
  // now the breaches that count: the 3rd one fires
  for (const h of ["web1", "web2"]) setValue(h, 90);
  await until("firing on web1 and web2", async () => (await events()).filter((e) => e.rule === "val-high" && e.state === "firing").length >= 2, 30_000);
  // hysteresis: 75 is under the threshold but not under recover (< 70): still firing
  for (const h of ["web1", "web2"]) setValue(h, 75);
  s = await waitSamples("web1", (x) => x.filter((y) => y.v === 75).length >= 3, "three samples of 75");
  assert.deepEqual(
    oracle(s).map((x) => x[0]),
    ["firing"],
    "75 does not resolve",
  );
  for (const h of ["web1", "web2"]) setValue(h, 60);
  await until("resolved on both", async () => (await events()).filter((e) => e.rule === "val-high" && e.state === "resolved").length >= 2, 30_000);
  const ev = await events();
  for (const h of ["web1", "web2"]) {
    const st = await samples(h);
    const o = oracle(st);
    assert.deepEqual(transitions(ev, h), o, `${h}: events = the rule over the stored samples`);
    assert.deepEqual(
      o.map((x) => x[0]),
      ["firing", "resolved"],
    );
    // exactly the 3rd breach of the second burst: the two samples of 90 before it did not fire
    const fired = st.findIndex((x) => x.seq === o[0]![1]);
    assert.equal(st[fired]!.v, 90);
    assert.equal(st.slice(0, fired).filter((x) => x.v === 90 && x.t > st[fired]!.t - 10_000).length, 2, `${h}: fired on the 3rd breach in the window`);
  }
  // `alerts --follow` printed each of them as it was stored
  await until("alerts --follow printed them", async () => ev.filter((e) => e.rule === "val-high").every((e) => follow.out.includes(`"id":${e.id},`)));
  await follow.kill();
  // The subscriber saw the same events (same ids); the webhook got Alertmanager JSON
  await until("subscriber has them", async () => sub.alerts.filter((a) => a.rule === "val-high").length >= 4);
  assert.deepEqual(
    sub.alerts.filter((a) => a.rule === "val-high").map((a) => a.id),
    ev.filter((e) => e.rule === "val-high").map((e) => e.id),
  );
  await until("webhook got firing and resolved", async () => hook.posts.filter((p) => p.status === 200 && p.body.status === "resolved").length >= 1, 20_000);
  const firingPosts = hook.posts.filter((p) => p.body.status === "firing");
  assert.equal(firingPosts[0]!.body.alerts[0]!.labels.alertname, "val-high");
  assert.ok(firingPosts[0]!.body.alerts.every((a) => a.status === "firing" && a.annotations.event_id));
  // grouping: both hosts' firing events (stored within the 4 s group wait) went in one POST
  const firingIds = ev.filter((e) => e.rule === "val-high" && e.state === "firing");
  if (Math.abs(firingIds[0]!.at - firingIds[1]!.at) < 3000) assert.equal(firingPosts[0]!.body.alerts.length, 2, "one POST for the group");
});

test("webhook delivery retries with backoff and the same event ids; a silence holds notifications until it ends; ack is recorded", async () => {
  const before = (await events()).length;
  // a second receiver that wants repeats of open, unacknowledged alerts every 2 s
  const rw = await cli(["alerts", "webhook", "add", hook.url.replace(/\/alerts$/, "/repeat"), "--group-wait", "0s", "--repeat", "2s", ...common()]);
  assert.equal(rw.code, 0, rw.stderr);
  // silence web2: its next firing is stored (silenced) and published, but not POSTed
  const sil = await cli(["silence", "add", "--host", "web2", "--for", "1h", "-m", "maintenance", "--json", ...common()]);
  assert.equal(sil.code, 0, sil.stderr);
  const silenceId = (JSON.parse(sil.stdout) as { id: number }).id;
  hook.failNext = 1;
  for (const h of ["web1", "web2"]) setValue(h, 95);
  await until("both fire again", async () => (await events()).slice(before).filter((e) => e.state === "firing").length >= 2, 30_000);
  const ev = (await events()).slice(before);
  const w2 = ev.find((e) => e.host === "web2" && e.state === "firing")!;
  const w1 = ev.find((e) => e.host === "web1" && e.state === "firing")!;
  assert.equal(w2.silenced, true);
  assert.equal(w1.silenced, false);
  // the first POST fails (500); the retry carries the same event
  await until("retried after a 500", async () => hook.posts.filter((p) => p.body.alerts.some((a) => a.annotations.event_id === String(w1.id))).length >= 2, 20_000);
  const tries = hook.posts.filter((p) => p.body.alerts.some((a) => a.annotations.event_id === String(w1.id)));
  assert.deepEqual(
    tries.slice(0, 2).map((p) => p.status),
    [500, 200],
  );
  assert.deepEqual(tries[0]!.body, tries[1]!.body);
  assert.ok(!hook.posts.some((p) => p.body.alerts.some((a) => a.annotations.event_id === String(w2.id))), "silenced: not posted");
  // ending the silence while web2 still fires: one notification now
  const rm = await cli(["silence", "rm", String(silenceId), ...common()]);
  assert.equal(rm.code, 0, rm.stderr);
  await until(
    "posted once the silence ended",
    async () => hook.posts.some((p) => p.status === 200 && p.body.alerts.some((a) => a.labels.host === "web2" && /silence \d+ ended/.test(a.annotations.note ?? ""))),
    20_000,
  );
  const posts = hook.posts.length;
  const repeatsOf = (id: number): number => hook.repeats.filter((p) => p.alerts.some((a) => a.annotations.event_id === String(id))).length;
  await until("web1's firing sent, then repeated", async () => repeatsOf(w1.id) >= 2, 20_000);
  const ack = await cli(["alerts", "ack", String(w1.id), "-m", "looking", ...common()]);
  assert.equal(ack.code, 0, ack.stderr);
  const acked = (await events()).find((e) => e.state === "acked" && e.host === "web1")!;
  assert.match(acked.note ?? "", /monitor-test|looking/);
  const human = await cli(["alerts", ...common()]);
  assert.match(human.stdout, /FIRING\s+val-high\|web1 since .* \(acked\)/);
  assert.equal(hook.posts.length, posts, "an ack is not sent to webhooks");
  // after the ack no more repeats: let well over the 2 s repeat pass (measured by stored samples)
  const afterAck = repeatsOf(w1.id);
  const from = last(await samples("web1"));
  await waitSamples("web1", (x) => x.filter((y) => y.t > from).length >= 5, "5 more samples");
  assert.ok(repeatsOf(w1.id) <= afterAck + 1, "acknowledged: repeats stop (one may have been on its way)");
  for (const h of ["web1", "web2"]) setValue(h, 50);
  await until("both resolved", async () => (await events()).filter((e) => e.state === "resolved" && e.rule === "val-high").length >= 4, 30_000);
});

test("an unsupported item keeps its alert open; SIGKILL of an agent raises nodata, its return resolves it", async () => {
  const before = (await events()).length;
  setValue("web2", 90);
  await until("web2 fires", async () => (await events()).slice(before).some((e) => e.host === "web2" && e.state === "firing"), 30_000);
  setValue("web2", null); // `cat` fails: the item is unsupported, no value — which must not resolve anything
  await until("val unsupported on web2", async () => {
    const r = await cli(["metrics", "web2", "--json", ...common()]);
    const item = (JSON.parse(r.stdout || "{}") as { items?: Array<{ item: string; error: string | null }> }).items?.find((x) => x.item === "val");
    return item?.error ? /exit 1/.test(item.error) : false;
  });
  const human = await cli(["metrics", "web2", ...common()]);
  assert.match(human.stdout, /val\s+unsupported: exit 1/);
  assert.match(human.stdout, /load1\s+\d/, "other items keep flowing");
  await agents.get("web2")!.kill();
  const killedAt = Date.now();
  const nd = await until("nodata for web2", async () => (await events()).slice(before).find((e) => e.host === "web2" && e.state === "nodata"), 30_000);
  process.stderr.write(`# web2 SIGKILL → nodata event stored: ${nd.at - killedAt} ms (nodata limit 3 s)\n`);
  assert.ok(!(await events()).slice(before).some((e) => e.host === "web2" && e.rule === "val-high" && e.state === "resolved"), "silence never resolves a metric alert");
  setValue("web2", 50);
  await startAgent("web2");
  await until("nodata resolved", async () => (await events()).slice(before).some((e) => e.host === "web2" && e.rule === "host-silent" && e.state === "resolved"), 30_000);
  await until("val-high resolved by real samples", async () => (await events()).slice(before).some((e) => e.host === "web2" && e.rule === "val-high" && e.state === "resolved"), 30_000);
});

test("a clean agent stop is `stopped`, never nodata", async () => {
  const before = (await events()).length;
  await agents.get("db1")!.stop();
  await until("stopped recorded", async () => (await events()).slice(before).some((e) => e.host === "db1" && e.state === "stopped"));
  // let well over the nodata limit (3 s) pass, measured by web1's stored samples
  const from = last(await samples("web1"));
  await waitSamples("web1", (s) => s.filter((x) => x.t > from).length >= 6, "6 more samples");
  assert.ok(!(await events()).slice(before).some((e) => e.host === "db1" && e.state === "nodata"));
  await startAgent("db1");
});

test("collector SIGKILL loses and repeats no transition: a pending count carries over, a firing alert stays firing once", async () => {
  const before = (await events()).length;
  // web2 firing before the kill
  setValue("web2", 90);
  await until("web2 fires", async () => (await events()).slice(before).some((e) => e.host === "web2" && e.state === "firing"), 30_000);
  // web1: one breach stored, then the collector dies
  setValue("web1", 90);
  await waitSamples("web1", (s) => s.at(-1)?.v === 90, "a breach on web1");
  await collector.kill();
  const killedAt = Date.now();
  await startCollector();
  await until("web1 fires after the restart", async () => (await events()).slice(before).some((e) => e.host === "web1" && e.state === "firing"), 30_000);
  // web2 kept breaching through it all: still the one firing event, no resolve; web1's events match the oracle
  const s1 = await samples("web1");
  const from = last(s1);
  await waitSamples("web1", (s) => s.filter((x) => x.t > from).length >= 6, "6 more samples after the restart");
  const ev = await events();
  for (const h of ["web1", "web2"]) assert.deepEqual(transitions(ev, h), oracle(await samples(h)), `${h}: every transition exactly once`);
  assert.equal(ev.slice(before).filter((e) => e.host === "web2" && e.rule === "val-high").length, 1);
  assert.ok(!ev.some((e) => e.state === "nodata" && e.at > killedAt), "no false nodata after the collector restart");
  // what subscribers saw: each stored event once
  await until("subscriber caught up", async () => sub.alerts.length >= ev.filter((e) => e.id > 0).length);
  const seen = sub.alerts.map((a) => a.id);
  assert.equal(new Set(seen).size, seen.length, "no event published twice");
  for (const h of ["web1", "web2"]) setValue(h, 50);
});

test("metrics go out by publish/subscribe, attributable to the agent; pika sees them too", async () => {
  assert.ok(sub.metrics.length > 0);
  assert.ok(
    sub.metrics.every((m) => m.rk === "metrics.web1" && m.host === "web1"),
    "bound metrics.web1: only web1's batches",
  );
  assert.ok(
    sub.metrics.every((m) => m.userId === decodeURIComponent(new URL(vh.url).username)),
    "user_id: the broker-validated login of the sender",
  );
  if (!pika) return;
  await until("pika got web2 metrics and alerts", async () => pikaOut.includes('"x": "fleet.metrics"') && pikaOut.includes('"state": "firing"'));
  const lines = pikaOut
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { x: string; rk: string; host: string });
  assert.ok(lines.filter((l) => l.x === "fleet.metrics").every((l) => l.rk === "metrics.web2" && l.host === "web2"));
});

test("agents refuse unsigned and altered templates, report why, and keep running the one they had", async () => {
  const good = agentTemplate("web1")!;
  const key = loadPrivateKey(join(dir, "fleet", "operator.key"));
  const now = Date.now();
  const evil: EffectiveTemplate = { ...good, items: { ...good.items, val: { ...good.items.val!, cmd: "touch " + join(dir, "pwned") + "; echo 1" } } };
  const p: ConfigPayload = { v: 1, kind: "config", nonce: "x", target: { host: "web1" }, issuedAt: now + 1000, exp: now + 60_000, user: "attacker", template: evil };
  const signed = signPayload(key, { ...p, template: good });
  const altered = { ...signed, p: JSON.stringify(p) }; // the signature is over the good payload
  const unsigned = { p: JSON.stringify(p), sig: "", key: signed.key };
  const conn = await amqp.connect(vh.url);
  const ch = await conn.createConfirmChannel();
  for (const m of [altered, unsigned]) ch.publish("fleet.commands", "host.web1", Buffer.from(JSON.stringify(m)), { persistent: true });
  await ch.waitForConfirms();
  await conn.close();
  const audit = await until("both refusals audited", async () => {
    const a = await client.call<Array<{ action: string; detail: { host?: string; error?: string } }>>("audit", { limit: 100 });
    const mine = a.filter((x) => x.action === "rejected" && x.detail.host === "web1" && /template refused/.test(x.detail.error ?? ""));
    return mine.length >= 2 ? mine : undefined;
  });
  assert.ok(audit.some((a) => /bad signature/.test(a.detail.error!)));
  assert.ok(audit.some((a) => /unsigned/.test(a.detail.error!)));
  assert.equal(agentTemplate("web1")!.rev, good.rev);
  const from = last(await samples("web1"));
  await waitSamples("web1", (s) => s.some((x) => x.t > from), "web1 keeps sampling");
  assert.equal(existsSync(join(dir, "pwned")), false);
});

test("an agent that reconnects after missing a push gets the current template (presence carries its rev)", async () => {
  await agents.get("web2")!.stop();
  const r = await cli(["template", "assign", "test-db", "--host", "web2", "--priority", "5", ...common()]);
  assert.equal(r.code, 0, r.stderr);
  const want = await client.call<EffectiveTemplate>("template.effective", { host: "web2" });
  assert.deepEqual(want.templates, ["test-web", "test-db"]);
  if (vh.mgmtUrl) {
    // the push waits in web2's durable queue; throw it away, so only the reconnect can deliver it
    const p = await mgmt(vh.mgmtUrl, "DELETE", `/api/queues/${encodeURIComponent(vh.name)}/fleet.host.web2/contents`);
    assert.ok(p.status < 300, `purge: ${p.status}`);
  }
  await startAgent("web2");
  await until("web2 runs the new rev", async () => agentTemplate("web2")?.rev === want.rev);
  assert.ok(Object.keys(agentTemplate("web2")!.items).includes("mem.used_pct"));
});

test("a template linked to a central group (warren groups add/assign) reaches its members, and leaves when they leave", async () => {
  let r = await cli(["groups", "add", "ops", "--hosts", "db1", ...common()]);
  assert.equal(r.code, 0, r.stderr);
  writeFileSync(join(dir, "ops.yaml"), 'name: ops\ninterval: 1s\nitems:\n  ops.load5: {collector: load, field: "5"}\n');
  r = await cli(["template", "add", join(dir, "ops.yaml"), ...common()]);
  assert.equal(r.code, 0, r.stderr);
  r = await cli(["template", "assign", "ops", "--group", "ops", ...common()]);
  assert.equal(r.code, 0, r.stderr);
  await until("db1 runs ops", async () => Object.keys(agentTemplate("db1")?.items ?? {}).includes("ops.load5"));
  assert.ok(!Object.keys(agentTemplate("web1")!.items).includes("ops.load5"));
  r = await cli(["groups", "unassign", "ops", "db1", ...common()]);
  assert.equal(r.code, 0, r.stderr);
  await until("db1 no longer runs ops", async () => !Object.keys(agentTemplate("db1")?.items ?? {}).includes("ops.load5"));
});

test("CLI and HTTP: list, show, unassign, rm; bad templates are refused with the reason and change nothing", async (t) => {
  let r = await cli(["template", "list", ...common()]);
  assert.match(r.stdout, /^test-web\s+2 items\s+1 rules\s+group:web$/m);
  r = await cli(["template", "show", "test-web", ...common()]);
  assert.match(r.stdout, /^name: test-web$/m, "show prints the source as written");
  writeFileSync(join(dir, "bad.yaml"), "name: bad\nitems:\n  x: {collector: cpu, field: nope}\n");
  r = await cli(["template", "add", join(dir, "bad.yaml"), ...common()]);
  assert.equal(r.code, 2, "exit 2: a request the collector found malformed (exitcodes.ts)");
  assert.match(r.stderr, /item x: collector cpu has fields util, user, .* not "nope"/);
  writeFileSync(join(dir, "bad2.yaml"), "name: [unclosed\n");
  r = await cli(["template", "add", join(dir, "bad2.yaml"), ...common()]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bad2\.yaml: /);
  assert.doesNotMatch((await cli(["template", "list", ...common()])).stdout, /^bad/m);
  r = await cli(["template", "unassign", "test-db", "--host", "web2", ...common()]);
  assert.equal(r.code, 0, r.stderr);
  await until("web2 loses the db items", async () => !Object.keys(agentTemplate("web2")?.items ?? { x: 1 }).includes("mem.used_pct"));
  r = await cli(["template", "rm", "ops", ...common()]);
  assert.equal(r.code, 0, r.stderr);
  r = await cli(["template", "rm", "ops", ...common()]);
  assert.equal(r.code, 4, "exit 4: not found");
  assert.match(r.stderr, /no template ops/);
  if (!vh.mgmtUrl) return t.skip("HTTP part needs the management API");
  const port = Number(/fleet HTTP API on http:\/\/127\.0\.0\.1:(\d+)/.exec(collector.err)?.[1]);
  const u = new URL(vh.mgmtUrl);
  const auth = "Basic " + Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString("base64");
  const api = (method: string, path: string, body?: unknown): Promise<Response> =>
    fetch(`http://127.0.0.1:${port}/api/fleet/${path}`, { method, headers: { authorization: auth, "content-type": "application/json" }, ...(body ? { body: JSON.stringify(body) } : {}) });
  let res = await api("POST", "templates", { source: "name: viahttp\ninterval: 1s\nitems:\n  up: {collector: load}\n" });
  assert.equal(res.status, 201, await res.clone().text());
  res = await api("POST", "templates", { source: "name: viahttp\nitems: 7\n" });
  assert.equal(res.status, 400);
  assert.match(((await res.json()) as { reason: string }).reason, /items must be a mapping/);
  res = await api("POST", "templates/viahttp/links", { host: "db1" });
  assert.equal(res.status, 201);
  await until("db1 gets the HTTP-made template", async () => Object.keys(agentTemplate("db1")?.items ?? {}).includes("up"));
  const latest = (await (await api("GET", "hosts/web1/metrics")).json()) as { state: string; items: Array<{ item: string }> };
  assert.equal(latest.state, "up");
  assert.deepEqual(latest.items.map((x) => x.item).sort(), ["load1", "val"]);
  const series = (await (await api("GET", "hosts/web1/metrics?item=val&since=1h&step=1m")).json()) as { points: Array<{ n: number }> };
  assert.ok(series.points.length >= 1 && series.points.every((p) => p.n > 0));
  assert.equal((await api("DELETE", "templates/viahttp/links?host=db1")).status, 200);
  assert.equal((await api("DELETE", "templates/viahttp")).status, 200);
  assert.equal((await api("GET", "templates/viahttp")).status, 404);
});

test("Prometheus exposition parses and filters by group", async (t) => {
  if (!vh.mgmtUrl) return t.skip("needs the management API (standalone collector HTTP auth)");
  const port = Number(/fleet HTTP API on http:\/\/127\.0\.0\.1:(\d+)/.exec(collector.err)?.[1]);
  const u = new URL(vh.mgmtUrl);
  const auth = "Basic " + Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString("base64");
  const get = async (q: string): Promise<string> => {
    const r = await fetch(`http://127.0.0.1:${port}/api/fleet/metrics/prometheus${q}`, { headers: { authorization: auth } });
    assert.equal(r.status, 200);
    return r.text();
  };
  const text = await get("");
  const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? -?[0-9.e+-]+( \d+)?$/;
  for (const line of text.trimEnd().split("\n")) if (!line.startsWith("#")) assert.match(line, sample);
  assert.match(text, /^fleet_host_up\{host="web1"\} 1$/m);
  assert.match(text, /^fleet_val\{host="web1",item="val"\} \d+ \d{13}$/m);
  assert.match(text, /^fleet_mem_used_pct\{host="db1",item="mem.used_pct"\} /m);
  const db = await get("?group=db");
  assert.ok(!/host="web/.test(db), "?group=db has no web host");
  assert.match(db, /host="db1"/);
});
