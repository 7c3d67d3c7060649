/**
 * Attack (issue 11 row 10): an unauthenticated scrape used to list every queue name in every
 * vhost on the management port's /metrics. Metrics now live on their own port (15692 as
 * rabbitmq_prometheus), aggregated by default; per-object detail (/metrics/per-object) is
 * what the operator opts into by exposing it. The management port serves no /metrics.
 * warren-only (the test RabbitMQ node does not enable rabbitmq_prometheus).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { startBrokerProcess, tempDir } from "../helpers/broker.js";
import { removeDir } from "../durability/helpers.js";

test("row 10: an unauthenticated scrape reveals no queue names by default", { skip: !!process.env.WARREN_TEST_URL, timeout: 60_000 }, async () => {
  const dir = tempDir("sec-metrics-");
  const b = await startBrokerProcess(dir, ["--no-fleet"]);
  try {
    const c = await amqp.connect(b.url);
    const ch = await c.createChannel();
    const secret = `payroll-${process.pid}-secret-queue`;
    await ch.assertQueue(secret, { durable: false });
    const prom = await fetch(`http://127.0.0.1:${b.prometheusPort}/metrics`);
    assert.equal(prom.status, 200);
    const text = await prom.text();
    assert.match(text, /rabbitmq_queues 1\b|rabbitmq_queues\{?[^\n]*\}? 1\b/, "aggregated counts are there");
    assert.ok(!text.includes(secret), "no queue name in the default scrape");
    const mgmt = await fetch(`http://127.0.0.1:${b.mgmtPort}/metrics`);
    assert.ok(!(await mgmt.text()).includes(secret), "the management port does not serve them either");
    await c.close();
  } finally {
    await b.stop();
  }
  removeDir(dir);
});
