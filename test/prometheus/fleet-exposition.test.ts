/**
 * /metrics/fleet on warren's own Prometheus listener: the embedded Fleet
 * collector's latest monitoring values (src/main passes them in; the broker
 * imports nothing of Fleet). A real `warren server` process, a real agent
 * beside it, a template pushed to it; the scrape must parse and carry the
 * agent's item with its sample timestamp. warren-only (RabbitMQ has no Fleet),
 * so it is skipped against an external broker.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startBrokerProcess, tempDir } from "../helpers/broker.js";
import { cli, startFleet, until } from "../fleet/procs.js";

test("warren's Prometheus listener serves Fleet monitoring on /metrics/fleet", { skip: !!process.env.WARREN_TEST_URL && "warren-only: Fleet embedded in warren server" }, async () => {
  const dir = tempDir("warren-fleetprom-");
  const b = await startBrokerProcess(dir);
  const agent = startFleet("agent", ["--name", "p1", "--groups", "prom", "--data-dir", dir, "--heartbeat", "60s"]);
  try {
    await agent.waitLog(/ready on/);
    writeFileSync(join(dir, "t.yaml"), 'name: prom\ninterval: 1s\nitems:\n  load.one: {collector: load, field: "1"}\n');
    for (const args of [
      ["template", "add", join(dir, "t.yaml")],
      ["template", "assign", "prom", "--group", "prom"],
    ]) {
      const r = await cli([...args, "--data-dir", dir]);
      assert.equal(r.code, 0, r.stderr);
    }
    const scrape = async (q = ""): Promise<string> => {
      const r = await fetch(`http://127.0.0.1:${b.prometheusPort}/metrics/fleet${q}`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      return r.text();
    };
    const text = await until(
      "the agent's item in the scrape",
      async () => {
        const t = await scrape();
        return /^fleet_load_one\{/m.test(t) ? t : undefined;
      },
      30_000,
    );
    for (const line of text.trimEnd().split("\n")) if (!line.startsWith("#")) assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.e+-]+( \d+)?$/);
    assert.match(text, /^# TYPE fleet_host_up gauge$/m);
    assert.match(text, /^fleet_host_up\{host="p1"\} 1$/m);
    assert.match(text, /^fleet_load_one\{host="p1",item="load.one"\} [0-9.]+ \d{13}$/m);
    assert.doesNotMatch(await scrape("?group=nope"), /host="p1"/);
    // the broker's own families stay where they were
    assert.doesNotMatch(await (await fetch(`http://127.0.0.1:${b.prometheusPort}/metrics`)).text(), /^fleet_/m);
  } finally {
    await agent.stop();
    await b.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
