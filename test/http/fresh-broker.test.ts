/**
 * A fresh broker has no connections, as tooling written for RabbitMQ assumes
 * (connection-recovery tests that close "all connections" and wait for their own
 * client to come back, dashboards, scripts). warren's embedded Fleet collector is
 * the broker's own client: it stays out of /api/connections, /api/channels,
 * /api/consumers and the overview's object totals, and an operator still finds it
 * with ?internal=true or by name. Against RabbitMQ 3.10.8 (a private node, nothing
 * else connected) the default listings are empty the same way; the ?internal part
 * is warren's own and checked only against warren.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { startBroker, type TestBroker } from "../helpers/broker.js";
import { Api, eventually } from "./helpers.js";

let b: TestBroker;
let api: Api;
let skip = false;

before(async () => {
  // embedded, Fleet runs only when asked (warren server runs it by default)
  b = await startBroker({ mgmt: true, options: { fleet: true } });
  if (!b.mgmtUrl) {
    skip = true;
    await b.stop();
    return;
  }
  api = new Api(b.mgmtUrl);
});

after(async () => {
  if (!skip) await b.stop();
});

test("fresh broker: no connections or channels listed; the Fleet collector only on request", async (t) => {
  if (skip) return t.skip("no management URL");
  if (!b.external) {
    // the embedded collector is up and connected (it declares its queues once connected)
    const internal = await eventually(async () => {
      const r = await api.get("/api/connections?internal=true");
      const list = r.json as Array<Record<string, unknown>>;
      return list.length > 0 && (await api.get("/api/channels?internal=true")).json.length > 0 ? list : undefined;
    });
    assert.equal(internal.length, 1);
    assert.equal(internal[0]!["user"], "warren-fleet-collector");
    const byName = await api.get(`/api/connections/${encodeURIComponent(String(internal[0]!["name"]))}`);
    assert.equal(byName.status, 200, "reachable by name");
  }
  assert.deepEqual((await api.get("/api/connections")).json, []);
  assert.deepEqual((await api.get("/api/channels")).json, []);
  assert.deepEqual((await api.get("/api/consumers")).json, []);
  const totals = (await api.get("/api/overview")).json.object_totals as Record<string, number>;
  assert.equal(totals["connections"], 0);
  assert.equal(totals["channels"], 0);
  assert.equal(totals["consumers"], 0);
  // a client of our own is listed as usual, and closing every listed connection spares the collector
  const conn = await amqp.connect(b.url);
  conn.on("error", () => {});
  const listed = await eventually(async () => {
    const l = (await api.get("/api/connections")).json as Array<Record<string, unknown>>;
    return l.length === 1 ? l : undefined;
  });
  assert.equal(listed[0]!["user"], "guest");
  await conn.close();
});
