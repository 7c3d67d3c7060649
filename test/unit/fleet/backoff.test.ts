/**
 * Fleet's reconnect backoff (src/fleet/conn.ts): exponential with full jitter. Not a RabbitMQ
 * behaviour — it decides how 10,000 agents that lost the broker at once come back.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Backoff } from "../../../src/fleet/conn.js";

test("each wait lies in [min/10, window]; the window doubles up to the maximum", () => {
  for (let trial = 0; trial < 200; trial++) {
    const b = new Backoff(1000, 60_000);
    for (let k = 0; k < 12; k++) {
      const w = b.next();
      const window = Math.min(60_000, 1000 * 2 ** k);
      assert.ok(w >= 100 && w <= window, `attempt ${k}: ${w} ms outside [100, ${window}]`);
    }
  }
});

test("full jitter: waits spread over the whole window, not only its upper half", () => {
  const waits = Array.from({ length: 2000 }, () => new Backoff(1000, 60_000).next());
  const low = waits.filter((w) => w < 500).length;
  // uniform over [100, 1000]: ~44 % below 500 (equal jitter would give 0)
  assert.ok(low > 600 && low < 1200, `${low} of 2000 first waits below 500 ms`);
});

test("reset starts the window again from the minimum", () => {
  const b = new Backoff(1000, 60_000);
  for (let k = 0; k < 10; k++) b.next();
  b.reset();
  assert.ok(b.next() <= 1000);
});
