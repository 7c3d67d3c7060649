/**
 * Monitoring's storage and rules, below the network: the Gorilla-style chunk
 * codec round-trips exactly and is compact; compaction into chunks and rollups
 * keeps every sample answerable (raw and aggregated) in a real SQLite file;
 * templates reject bad input with a reason; the rule engine fires on exactly
 * the Nth breach in the window and flaps as documented.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { decodeChunk, encodeChunk } from "../../../src/fleet/monitor/codec.js";
import { MetricsStore, DEFAULT_RETENTION } from "../../../src/fleet/monitor/store.js";
import { evaluate, newState } from "../../../src/fleet/monitor/rules.js";
import { effectiveTemplate, parseTemplate, TemplateError, type MetricRule } from "../../../src/fleet/monitor/template.js";
import { tempDir } from "../../helpers/broker.js";

test("chunk codec: exact round trip of awkward values and timestamps", () => {
  const ts: number[] = [];
  const vs: number[] = [];
  let t = 1_733_070_000_000;
  const specials = [0, -0, 1, -1, 0.1, 1e-300, 1e300, Number.MAX_VALUE, Number.MIN_VALUE, Infinity, -Infinity, 12.5, 12.5, 99.99];
  for (let i = 0; i < 2000; i++) {
    t += i % 97 === 0 ? 1 + (i % 5) * 7_654_321 : i % 13 === 0 ? 10_003 : 10_000; // jitter, gaps, big jumps
    ts.push(t);
    vs.push(i < specials.length ? specials[i]! : Math.sin(i) * 1000 + (i % 7));
  }
  const d = decodeChunk(encodeChunk(ts, vs));
  assert.deepEqual(d.ts, ts);
  for (let i = 0; i < vs.length; i++) assert.ok(Object.is(d.vs[i], vs[i]), `value ${i}: ${d.vs[i]} vs ${vs[i]}`);
  assert.deepEqual(decodeChunk(encodeChunk([], [])), { ts: [], vs: [] });
  assert.deepEqual(decodeChunk(encodeChunk([5], [NaN])).ts, [5]);
});

test("chunk codec: a regular series with slowly changing values takes a few bits per sample", () => {
  const n = 1000;
  const ts = Array.from({ length: n }, (_, i) => 1_733_070_000_000 + i * 10_000);
  const flat = encodeChunk(
    ts,
    ts.map(() => 42),
  );
  assert.ok(flat.length < 20 + n / 4 + 8, `constant: ${flat.length} bytes for ${n} samples`);
  const pct = encodeChunk(
    ts,
    ts.map((_, i) => Math.round((50 + 10 * Math.sin(i / 20)) * 100) / 100),
  ); // a % with 2 decimals
  const bps = pct.length / n;
  process.stderr.write(`# chunk bytes/sample: constant ${(flat.length / n).toFixed(3)}, 2-decimal percentage ${bps.toFixed(2)}\n`);
  assert.ok(bps < 8, `2-decimal percentage: ${bps} B/sample`);
});

test("store: compaction moves samples into chunks and rollups; raw and stepped queries see the same data", () => {
  const dir = tempDir("warren-monstore-");
  try {
    const s = new MetricsStore(join(dir, "metrics.db"));
    const sid = s.seriesId("web1", "cpu.util");
    const t0 = Date.UTC(2026, 0, 1);
    s.tx(() => {
      for (let i = 0; i < 360; i++) s.addBatch("web1", t0 + i * 10_000, i + 1, [sid], [i % 60], 1); // one hour at 10 s
    });
    const before = s.raw(sid, t0, t0 + 3_600_000);
    const r = s.compact(t0 + 1_800_000, { ...DEFAULT_RETENTION, rawMs: 1e13 }, t0 + 3_600_000);
    assert.deepEqual(r, { series: 1, samples: 180 });
    const after = s.raw(sid, t0, t0 + 3_600_000);
    assert.deepEqual(
      after.map((x) => [x.t, x.v]),
      before.map((x) => [x.t, x.v]),
    );
    assert.equal(after[0]!.seq, null, "compacted samples keep no seq");
    assert.equal(after[200]!.seq, 201);
    const st = s.chunkStats();
    assert.equal(st.samples, 180);
    process.stderr.write(`# compacted: ${st.bytes} chunk bytes for ${st.samples} samples = ${(st.bytes / st.samples).toFixed(2)} B/sample\n`);
    const pts = s.series(sid, t0, t0 + 3_600_000, 600_000);
    assert.equal(pts.length, 6);
    assert.deepEqual(
      pts.map((p) => [p.n, p.min, p.max]),
      Array(6).fill([60, 0, 59]),
    );
    // past raw retention only the rollups answer
    s.compact(t0 + 3_600_001, { rawMs: 1, minuteMs: 1e13, hourMs: 1e13 }, t0 + 3_600_001 + 10);
    assert.equal(s.raw(sid, t0, t0 + 3_600_000).length, 0);
    const hourly = s.series(sid, t0, t0 + 3_600_000, 3_600_000);
    assert.equal(hourly.length, 1);
    assert.equal(hourly[0]!.n, 360);
    assert.equal(hourly[0]!.avg, 29.5);
    s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("templates: bad input is refused with the place and the reason", () => {
  const bad: Array<[unknown, RegExp]> = [
    [{ name: "x", items: { "1bad": { collector: "cpu" } } }, /item keys/],
    [{ name: "x", items: { a: { collector: "gpu" } } }, /collector one of/],
    [{ name: "x", items: { a: { collector: "cpu", field: "nope" } } }, /has fields/],
    [{ name: "x", items: { a: { cmd: "" } } }, /non-empty/],
    [{ name: "x", items: { a: { cmd: "true", interval: "500ms" } } }, /whole seconds/],
    [{ name: "x", items: { a: { collector: "cpu" } }, rules: [{ name: "r", item: "a", when: "80" }] }, /condition like/],
    [{ name: "x", items: { a: { collector: "cpu" } }, rules: [{ name: "r", item: "a", when: "> 1", count: 3 }] }, /needs within/],
    [{ name: "x", items: { a: { collector: "cpu" } }, rules: [{ name: "r", item: "b", when: "> 1" }] }, /not defined/],
    [{ name: "x", extra: 1 }, /unknown field "extra"/],
    [{ name: "../etc" }, /needs a name/],
  ];
  for (const [doc, re] of bad)
    assert.throws(
      () => parseTemplate(doc),
      (e: Error) => e instanceof TemplateError && re.test(e.message),
      JSON.stringify(doc),
    );
});

test("effective template: group links in priority order, then host links override; a nodata rule is built in", () => {
  const a = parseTemplate({ name: "a", interval: "10s", items: { x: { collector: "load" }, y: { collector: "cpu" } }, rules: [{ name: "r", item: "x", when: "> 1" }] });
  const b = parseTemplate({ name: "b", items: { x: { cmd: "echo 2", interval: "5s" } } });
  const tpl = new Map([
    ["a", a],
    ["b", b],
  ]);
  const links = [
    { template: "a", kind: "group" as const, target: "web", priority: 0 },
    { template: "b", kind: "host" as const, target: "web1", priority: 0 },
  ];
  const e1 = effectiveTemplate("web1", ["web"], links, tpl);
  assert.deepEqual(e1.templates, ["a", "b"]);
  assert.equal(e1.items.x!.cmd, "echo 2");
  assert.deepEqual(
    e1.rules.map((r) => r.name),
    ["host-silent", "r"],
  );
  assert.equal((e1.rules[0] as { nodataMs: number }).nodataMs, 11_000, "2 × the shortest interval + 1 s");
  const e2 = effectiveTemplate("web2", ["web"], links, tpl);
  assert.notEqual(e2.rev, e1.rev);
  assert.equal(effectiveTemplate("web2", ["web"], links, tpl).rev, e2.rev, "same content, same rev");
  assert.equal(Object.keys(effectiveTemplate("db1", ["db"], links, tpl).items).length, 0);
});

test("rules: the Nth breach within W fires, the (N-1)th and breaches that left the window do not; flapping", () => {
  const r = parseTemplate({
    name: "t",
    items: { v: { collector: "load" } },
    rules: [{ name: "r", item: "v", when: "> 80", count: 3, within: "10s", recover: "< 70", recover_count: 2, flap: { count: 2, within: "1h" } }],
  }).rules[0] as MetricRule;
  const st = newState();
  const feed = (pairs: Array<[number, number]>): Array<string | null> => pairs.map(([t, v]) => evaluate(r, st, t * 1000, v)?.state ?? null);
  // breaches at 0 and 5, gap, 11 (0 left the window), 12 → 3 breaches in (2, 12]: fires at 12
  assert.deepEqual(
    feed([
      [0, 90],
      [5, 90],
      [6, 10],
      [11, 90],
      [12, 90],
    ]),
    [null, null, null, null, "firing"],
  );
  assert.deepEqual(
    feed([
      [13, 75],
      [14, 60],
      [15, 90],
      [16, 60],
      [17, 60],
    ]),
    [null, null, null, null, "resolved"],
  );
  // the second firing within the hour: flapping (one notice), its resolve is held
  assert.deepEqual(
    feed([
      [20, 90],
      [21, 90],
      [22, 90],
      [23, 60],
      [24, 60],
    ]),
    [null, null, "flapping", null, null],
  );
  assert.equal(st.flapping, true);
  // quiet for the flap window: resolved
  assert.equal(evaluate(r, st, 24_000 + 3_600_000, 50)?.state, "resolved");
  assert.equal(st.flapping, false);
});
