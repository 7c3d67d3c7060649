/**
 * Attack (issue 11 row 4, login CPU exhaustion): wrong-password logins need no account and
 * each cost the broker a scrypt hash. They used to run synchronously on the broker's only
 * thread, so ~18 per second saturated it (other clients' confirm latency median 0.9 →
 * 71.6 ms). Now hashing runs on the thread pool, one at a time, and a source with too many
 * failures is refused without hashing. The broker runs as its own process here so that the
 * attacking clients' own CPU use in the test process does not count against it.
 * While 40 attackers log in with wrong passwords as fast as they are answered, a bystander
 * that connected before keeps getting confirms (counts and a generous seconds-level bound),
 * and a client whose password the broker verified before can still log in from the
 * attacked address. RabbitMQ 3.10.8 passes the same test (WARREN_TEST_URL).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { startBrokerProcess, tempDir, type BrokerProcess } from "../helpers/broker.js";
import { startBystander } from "./helpers.js";
import { rmSync } from "node:fs";

let proc: BrokerProcess | undefined;
let url = "";
let dir = "";

before(async () => {
  if (process.env.WARREN_TEST_URL) {
    url = process.env.WARREN_TEST_URL;
    return;
  }
  dir = tempDir("sec-login-");
  proc = await startBrokerProcess(dir, ["--log-level", "error"]);
  url = proc.url;
});
after(async () => {
  await proc?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("a flood of wrong-password logins does not starve an established connection", { timeout: 120_000 }, async () => {
  const bad = new URL(url);
  bad.password = "wrong-password";
  const by = await startBystander(url);
  const ATTACKERS = 40;
  const PER_ATTACKER = 15;
  let attempts = 0;
  let refused = 0;
  await Promise.all(
    Array.from({ length: ATTACKERS }, async () => {
      for (let i = 0; i < PER_ATTACKER; i++) {
        attempts++;
        try {
          const c = await amqp.connect(bad.toString());
          await c.close();
        } catch {
          refused++;
        }
      }
    }),
  );
  // a client that logged in before (its password is known good) is not locked out
  const again = await amqp.connect(url);
  await again.close();
  const r = await by.stop();
  assert.equal(attempts, ATTACKERS * PER_ATTACKER);
  assert.equal(refused, attempts, "every wrong-password login was refused");
  assert.deepEqual(r.errors, []);
  assert.ok(r.roundTrips >= 5, `the bystander completed ${r.roundTrips} round trips`);
  assert.ok(r.worstMs < 2000, `the bystander waited ${r.worstMs} ms for one confirm during the flood`);
});
