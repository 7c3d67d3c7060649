/**
 * Prometheus metrics like rabbitmq_prometheus (RabbitMQ 3.10.8), on their own listener.
 *
 * - The official Grafana dashboard "RabbitMQ-Overview" at v3.10.8 (fixtures/, taken from the
 *   rabbitmq-server repository): every metric its 41 queries name is served, with every label
 *   the queries filter, join or group on, and — under the load this test makes — a non-zero
 *   value, so every panel draws a line. Labels Prometheus adds at scrape time (instance, job,
 *   namespace) are not the broker's to serve.
 * - Every rabbitmq_* family warren serves exists in a capture from a real 3.10.8 node
 *   (fixtures/rabbitmq-3.10.8-*.txt, same endpoint) with the same TYPE, HELP and a subset of its
 *   label names: warren never invents a rabbitmq_ name; its own metrics are warren_*.
 * - /metrics aggregates, /metrics/per-object labels by object, /metrics/detailed serves only the
 *   families asked for (rabbitmq_detailed_ / rabbitmq_cluster_ prefixes, vhost filter).
 * - The management port no longer serves /metrics (it listed every queue without a login).
 *
 * Set WARREN_TEST_URL + WARREN_TEST_MGMT_URL + WARREN_TEST_PROMETHEUS_URL (http://127.0.0.1:15692)
 * to run the dashboard and endpoint tests against RabbitMQ: they pass on 3.10.8 too.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import amqp from "amqplib";
import { repoRoot, tempDir } from "../helpers/broker.js";
import { Api, enc, eventually, uniq } from "../http/helpers.js";
import { parseServerArgs } from "../../src/cli/server.js";

const FIX = join(repoRoot, "test", "prometheus", "fixtures");
const id = uniq();
const V = `prom-${id}`;

let amqpUrl: string;
let promUrl: string;
let api: Api;
let stop: () => Promise<void> = async () => {};
let external = false;
let conn: amqp.ChannelModel | undefined;

before(async () => {
  if (process.env.WARREN_TEST_URL) {
    external = true;
    if (!process.env.WARREN_TEST_MGMT_URL || !process.env.WARREN_TEST_PROMETHEUS_URL) return;
    const u = new URL(process.env.WARREN_TEST_URL);
    u.pathname = "/";
    amqpUrl = u.toString().replace(/\/$/, "");
    promUrl = process.env.WARREN_TEST_PROMETHEUS_URL;
    api = new Api(process.env.WARREN_TEST_MGMT_URL);
  } else {
    const { startWarren } = await import("../../src/main/warren.js");
    const dir = tempDir();
    const w = await startWarren({ port: 0, host: "127.0.0.1", dataDir: dir, mgmtPort: 0, prometheusPort: 0, fleet: false, logLevel: "silent" });
    amqpUrl = `amqp://guest:guest@127.0.0.1:${w.amqpPort}`;
    promUrl = `http://127.0.0.1:${w.prometheusPort}`;
    api = new Api(`http://guest:guest@127.0.0.1:${w.mgmtPort}`);
    stop = async () => {
      await w.close();
      rmSync(dir, { recursive: true, force: true });
    };
  }
  assert.equal((await api.put(`/api/vhosts/${enc(V)}`)).status, 201);
  await api.put(`/api/permissions/${enc(V)}/guest`, { configure: ".*", write: ".*", read: ".*" });
  await load();
});

after(async () => {
  await conn?.close().catch(() => {});
  if (api) await api.del(`/api/vhosts/${enc(V)}`);
  await stop();
});

const ready = (): boolean => amqpUrl !== undefined;

/**
 * Traffic that moves every counter the dashboard plots: confirmed publishes, routed and
 * unroutable (mandatory and not) messages, consume with manual and automatic ack, basic.get
 * both ways and on an empty queue, a redelivery, channels, connections and queues opened and
 * closed. One connection and its consumers stay open so the gauges are non-zero.
 */
async function load(): Promise<void> {
  const vurl = `${amqpUrl}/${enc(V)}`;
  conn = await amqp.connect(vurl);
  const pub = await conn.createConfirmChannel();
  await pub.assertExchange("x", "direct", { durable: false });
  await pub.assertQueue("work", { durable: false });
  await pub.assertQueue("auto", { durable: false });
  await pub.bindQueue("work", "x", "work");
  for (let i = 0; i < 30; i++) pub.publish("x", "work", Buffer.from(`m${i}`));
  pub.publish("x", "nowhere", Buffer.from("returned"), { mandatory: true });
  pub.publish("x", "nowhere", Buffer.from("dropped"));
  await pub.waitForConfirms();
  const getter = await conn.createChannel();
  const m1 = await getter.get("work", { noAck: false });
  assert.ok(m1);
  getter.nack(m1, false, true); // requeued: its next delivery is a redelivery
  const m2 = await getter.get("work", { noAck: false });
  assert.ok(m2 && m2.fields.redelivered);
  getter.ack(m2);
  assert.ok(await getter.get("work", { noAck: true }));
  await getter.assertQueue("empty", { durable: false });
  assert.equal(await getter.get("empty"), false);
  // a consumer that keeps 5 unacked and acks the rest; one with automatic ack
  const cons = await conn.createChannel();
  await cons.prefetch(5);
  let seen = 0;
  await cons.consume("work", (m) => {
    if (m && ++seen > 5) cons.ack(m);
  });
  const autoCh = await conn.createChannel();
  await autoCh.consume("auto", () => {}, { noAck: true });
  pub.sendToQueue("auto", Buffer.from("a"));
  await pub.waitForConfirms();
  // churn: a channel, a connection and a queue that come and go
  const c2 = await amqp.connect(vurl);
  const tmp = await c2.createChannel();
  await tmp.assertQueue("gone", { durable: false });
  await tmp.deleteQueue("gone");
  await tmp.close();
  await c2.close();
  // RabbitMQ updates its metric tables every 5 s; warren at once
  await eventually(async () => (await api.get(`/api/queues/${enc(V)}/work`)).json?.messages_unacknowledged === 5 || undefined, 20_000);
}

interface Series {
  labels: Record<string, string>;
  value: number;
}

interface Exposition {
  families: Map<string, { type: string; help: string; series: Series[] }>;
}

function parse(text: string): Exposition {
  const families: Exposition["families"] = new Map();
  const get = (n: string) => {
    let f = families.get(n);
    if (!f) families.set(n, (f = { type: "", help: "", series: [] }));
    return f;
  };
  for (const line of text.split("\n")) {
    let m = /^# (TYPE|HELP) (\S+) ?(.*)$/.exec(line);
    if (m) {
      if (m[1] === "TYPE") get(m[2]!).type = m[3]!;
      else get(m[2]!).help = m[3]!;
      continue;
    }
    if (line === "" || line.startsWith("#")) continue;
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    // histograms/summaries: samples named family_sum / _count belong to their family
    const name = families.has(m[1]!) ? m[1]! : m[1]!.replace(/_(sum|count|bucket)$/, "");
    get(name).series.push({ labels, value: Number(m[3]) });
  }
  return { families };
}

async function scrape(path: string): Promise<Exposition> {
  const r = await fetch(promUrl + path);
  assert.equal(r.status, 200, path);
  assert.match(r.headers.get("content-type") ?? "", /^text\/plain/);
  return parse(await r.text());
}

/** Labels Prometheus itself attaches to every scraped series. */
const SCRAPE_LABELS = new Set(["instance", "job", "namespace"]);
const PROMQL_WORDS = new Set([
  "sum",
  "rate",
  "irate",
  "on",
  "group_left",
  "group_right",
  "by",
  "without",
  "ignoring",
  "avg",
  "max",
  "min",
  "count",
  "topk",
  "bottomk",
  "offset",
  "and",
  "or",
  "unless",
  "bool",
]);

interface Use {
  metric: string;
  /** label names the query matches on (selectors) */
  filters: string[];
}

/**
 * The metric selectors of a PromQL expression and the label names its joins and groupings use
 * (group_left(...) labels come from the right-hand side, rabbitmq_identity_info in this dashboard).
 */
function promqlUses(expr: string): { uses: Use[]; joinLabels: string[] } {
  const uses: Use[] = [];
  const joinLabels: string[] = [];
  const noRanges = expr.replace(/\[[^\]]*\]/g, "");
  for (const m of noRanges.matchAll(/\b(group_left|group_right|by|on|without|ignoring)\s*\(([^)]*)\)/g)) {
    for (const l of m[2]!
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean))
      joinLabels.push(l);
  }
  const stripped = noRanges.replace(/\b(group_left|group_right|by|on|without|ignoring)\s*\([^)]*\)/g, " ");
  for (const m of stripped.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?/g)) {
    const name = m[1]!;
    if (PROMQL_WORDS.has(name) || /^\d/.test(name)) continue;
    const filters = [...(m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!=|!~|=)/g)].map((x) => x[1]!);
    uses.push({ metric: name, filters });
  }
  return { uses, joinLabels };
}

function dashboardQueries(): { title: string; expr: string }[] {
  const d = JSON.parse(readFileSync(join(FIX, "RabbitMQ-Overview-3.10.8.json"), "utf8")) as { panels: unknown[]; templating: { list: { query: unknown }[] } };
  const out: { title: string; expr: string }[] = [];
  const walk = (ps: unknown[]): void => {
    for (const p of ps as { title?: string; targets?: { expr?: string }[]; panels?: unknown[] }[]) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ title: p.title ?? "(untitled)", expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  // template variables: label_values(rabbitmq_identity_info{…}, rabbitmq_cluster)
  for (const v of d.templating.list) {
    const q = typeof v.query === "string" ? v.query : (v.query as { query?: string } | null)?.query;
    const m = q ? /label_values\((.*),\s*(\w+)\)$/.exec(q) : null;
    if (m) out.push({ title: `variable ${m[2]}`, expr: `${m[1]} by(${m[2]})` });
  }
  return out;
}

test("every query of the RabbitMQ-Overview dashboard (3.10.8) finds its metrics, labels and non-zero values", async (t) => {
  if (!ready()) return t.skip("external broker without WARREN_TEST_PROMETHEUS_URL");
  const queries = dashboardQueries();
  assert.equal(queries.filter((q) => !q.title.startsWith("variable")).length, 41, "the fixture's 41 panel queries");
  // RabbitMQ refreshes some node gauges every few seconds: scrape until they are in (bounded)
  let problems: string[] = [];
  const deadline = Date.now() + 20_000;
  do {
    problems = await dashboardProblems(queries);
    if (problems.length === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  } while (Date.now() < deadline);
  assert.deepEqual(problems, []);
});

async function dashboardProblems(queries: { title: string; expr: string }[]): Promise<string[]> {
  const metrics = await scrape("/metrics");
  const identity = metrics.families.get("rabbitmq_identity_info");
  assert.ok(identity && identity.series.length === 1, "rabbitmq_identity_info: one series");
  const problems: string[] = [];
  for (const q of queries) {
    const { uses, joinLabels } = promqlUses(q.expr);
    assert.ok(uses.length > 0, `no metric found in ${q.expr}`);
    for (const u of uses) {
      const f = metrics.families.get(u.metric);
      if (!f || f.series.length === 0) {
        problems.push(`${q.title}: ${u.metric} missing`);
        continue;
      }
      for (const l of u.filters) {
        if (!SCRAPE_LABELS.has(l) && !f.series.every((s) => l in s.labels)) problems.push(`${q.title}: ${u.metric} lacks label ${l}`);
      }
      // every panel plots something: gauges and counters the load moved are above zero
      if (!f.series.some((s) => s.value > 0)) problems.push(`${q.title}: ${u.metric} is 0`);
    }
    for (const l of joinLabels) {
      if (!SCRAPE_LABELS.has(l) && !(l in identity.series[0]!.labels)) problems.push(`${q.title}: rabbitmq_identity_info lacks label ${l} (joined on)`);
    }
  }
  return problems;
}

test("/metrics aggregates; /metrics/per-object has one series per queue with vhost and queue labels", async (t) => {
  if (!ready()) return t.skip("external broker without WARREN_TEST_PROMETHEUS_URL");
  const agg = await scrape("/metrics");
  const ready1 = agg.families.get("rabbitmq_queue_messages_ready")!;
  assert.equal(ready1.series.length, 1);
  assert.deepEqual(ready1.series[0]!.labels, {});
  const per = await scrape("/metrics/per-object");
  const rows = per.families.get("rabbitmq_queue_messages_ready")!.series.filter((s) => s.labels["vhost"] === V);
  assert.deepEqual(rows.map((s) => s.labels["queue"]).sort(), ["auto", "empty", "work"]);
  const unacked = per.families.get("rabbitmq_queue_messages_unacked")!.series.find((s) => s.labels["vhost"] === V && s.labels["queue"] === "work");
  assert.equal(unacked?.value, 5);
  assert.ok(per.families.has("rabbitmq_identity_info"));
});

test("/metrics/detailed serves the families asked for, for the vhosts asked for", async (t) => {
  if (!ready()) return t.skip("external broker without WARREN_TEST_PROMETHEUS_URL");
  const only = await scrape("/metrics/detailed");
  assert.deepEqual([...only.families.keys()].filter((n) => n.startsWith("rabbitmq_")).sort(), ["rabbitmq_build_info", "rabbitmq_identity_info"]);
  const d = await scrape(`/metrics/detailed?vhost=${enc(V)}&family=queue_coarse_metrics&family=exchange_names&family=no_such_family`);
  const names = [...d.families.keys()].filter((n) => n.startsWith("rabbitmq_") && !/_(build|identity)_info$/.test(n));
  assert.ok(names.includes("rabbitmq_detailed_queue_messages_ready"), names.join(" "));
  assert.ok(names.includes("rabbitmq_cluster_exchange_name"), names.join(" "));
  assert.ok(
    names.every((n) => /^rabbitmq_detailed_queue_messages(_ready|_unacked)?$|^rabbitmq_detailed_queue_process_reductions_total$|^rabbitmq_cluster_exchange_name$/.test(n)),
    names.join(" "),
  );
  const qs = d.families.get("rabbitmq_detailed_queue_messages")!.series;
  assert.ok(qs.length >= 3 && qs.every((s) => s.labels["vhost"] === V), JSON.stringify(qs));
  const xs = d.families.get("rabbitmq_cluster_exchange_name")!.series;
  assert.ok(
    xs.some((s) => s.labels["exchange"] === "x" && s.labels["type"] === "direct"),
    JSON.stringify(xs),
  );
  // exchange families are cluster-wide: the vhost filter does not apply to them; the default exchange is left out
  assert.ok(
    xs.some((s) => s.labels["vhost"] !== V),
    "other vhosts' exchanges too",
  );
  assert.ok(
    xs.every((s) => s.labels["exchange"] !== ""),
    "no default exchange",
  );
});

test("the management port does not serve /metrics", async (t) => {
  if (!ready()) return t.skip("external broker without WARREN_TEST_PROMETHEUS_URL");
  const r = await fetch(api.base + "/metrics");
  assert.equal(r.status, 404);
  await r.arrayBuffer();
});

function captured(file: string): Exposition {
  return parse(readFileSync(join(FIX, file), "utf8"));
}

test("every rabbitmq_ family warren serves is RabbitMQ 3.10.8's: same name, type, help, label names", async (t) => {
  if (external) return t.skip("compares warren's output with the RabbitMQ capture");
  const detailedFamilies = [
    "queue_coarse_metrics",
    "queue_metrics",
    "channel_metrics",
    "vhost_status",
    "exchange_names",
    "exchange_bindings",
    "connection_coarse_metrics",
    "channel_queue_exchange_metrics",
  ];
  const pairs: [string, string][] = [
    ["/metrics", "rabbitmq-3.10.8-metrics.txt"],
    ["/metrics/per-object", "rabbitmq-3.10.8-per-object.txt"],
    ["/metrics/detailed?" + detailedFamilies.map((f) => `family=${f}`).join("&"), "rabbitmq-3.10.8-detailed.txt"],
  ];
  const problems: string[] = [];
  for (const [path, file] of pairs) {
    const ours = await scrape(path);
    const theirs = captured(file);
    for (const [name, f] of ours.families) {
      if (!name.startsWith("rabbitmq_")) {
        if (name !== "process_start_time_seconds" && !name.startsWith("warren_")) problems.push(`${path}: ${name} is neither RabbitMQ's nor warren_*`);
        continue;
      }
      const r = theirs.families.get(name);
      if (!r) {
        problems.push(`${path}: ${name} does not exist in RabbitMQ`);
        continue;
      }
      if (r.type !== f.type) problems.push(`${path}: ${name} type ${f.type}, RabbitMQ ${r.type}`);
      if (r.help !== f.help) problems.push(`${path}: ${name} help "${f.help}", RabbitMQ "${r.help}"`);
      const theirLabels = new Set(r.series.flatMap((s) => Object.keys(s.labels)));
      // RabbitMQ adds product_name/product_version to build_info when the product is renamed
      if (name === "rabbitmq_build_info") theirLabels.add("product_name").add("product_version");
      for (const l of new Set(f.series.flatMap((s) => Object.keys(s.labels)))) {
        if (!theirLabels.has(l)) problems.push(`${path}: ${name} label ${l} is not RabbitMQ's`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test("warren server: --prometheus-port defaults to RabbitMQ's 15692 and can be turned off", () => {
  const dflt = parseServerArgs([], {});
  assert.ok(dflt !== "help");
  assert.equal(dflt.prometheusPort, 15692);
  const off = parseServerArgs(["--prometheus-port", "off"], {});
  assert.ok(off !== "help" && off.prometheusPort === null);
  const env = parseServerArgs([], { WARREN_PROMETHEUS_PORT: "24692" });
  assert.ok(env !== "help" && env.prometheusPort === 24692);
  assert.throws(() => parseServerArgs(["--prometheus-port", "70000"], {}), /--prometheus-port/);
});
