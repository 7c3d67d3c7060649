/**
 * The management API's rate history (src/http/rates.ts), driven tick by tick with
 * explicit times: samples as RabbitMQ 3.10 returns them (newest first, timestamps
 * aligned to incr, age/incr + 1 of them, avg and avg_rate), the step from one stored
 * sample to the next, objects that appear later or vanish, and the memory budget.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Rates, parseRanges, type Counters } from "../../../src/http/rates.js";
import { HttpError } from "../../../src/http/context.js";

type Sample = { sample: number; timestamp: number };
const T0 = 1_700_000_000_000; // a multiple of 5000

function sampler(intervalMs = 5000, budget?: number) {
  const objects = new Map<string, Counters>();
  const rates = new Rates(() => objects.entries(), intervalMs, budget);
  return { objects, rates };
}

test("samples are newest first, aligned to incr, age/incr + 1 of them, with avg and avg_rate", () => {
  const { objects, rates } = sampler();
  const q = { publish: 0, messages: 0 };
  objects.set("q:/\u0000a", q);
  for (let i = 0; i <= 12; i++) {
    q.publish = i * 10; // 2 msgs/s
    q.messages = i;
    rates.tick(T0 + i * 5000);
  }
  const now = T0 + 60_000 + 1234;
  const d = rates.details("q:/\u0000a", { publish: 120, messages: 12 }, { msg_rates: { ageS: 60, incrS: 5 }, lengths: { ageS: 20, incrS: 10 } }, now);
  const pub = d["publish_details"] as { rate: number; samples: Sample[]; avg: number; avg_rate: number };
  assert.equal(pub.rate, 2);
  assert.equal(pub.samples.length, 13);
  assert.deepEqual(pub.samples[0], { sample: 120, timestamp: T0 + 60_000 });
  assert.deepEqual(pub.samples[12], { sample: 0, timestamp: T0 });
  assert.ok(pub.samples.every((s, i) => i === 0 || s.timestamp === pub.samples[i - 1]!.timestamp - 5000));
  assert.equal(pub.avg, 60);
  assert.equal(pub.avg_rate, 2);
  // lengths follow their own range (RabbitMQ: lengths_age / lengths_incr)
  const len = d["messages_details"] as { samples: Sample[] };
  assert.deepEqual(
    len.samples.map((s) => [s.sample, s.timestamp - T0]),
    [
      [12, 60_000],
      [10, 50_000],
      [8, 40_000],
    ],
  );
  // without ranges: only the rate, as RabbitMQ answers when no history is asked for
  assert.deepEqual(rates.details("q:/\u0000a", { publish: 120 })["publish_details"], { rate: 2 });
});

test("between ticks a sample holds the last stored value; an object born later was 0 before", () => {
  const { objects, rates } = sampler();
  objects.set("o", { publish: 5 });
  rates.tick(T0);
  rates.tick(T0 + 5000);
  objects.set("q:/\u0000late", { messages: 7 });
  objects.get("o")!["publish"] = 9;
  rates.tick(T0 + 10_000 + 300); // ticks are not aligned to the sample grid
  const late = rates.details("q:/\u0000late", { messages: 7 }, { lengths: { ageS: 15, incrS: 5 } }, T0 + 16_000)["messages_details"] as { samples: Sample[] };
  assert.deepEqual(
    late.samples.map((s) => s.sample),
    [7, 0, 0, 0],
  );
  const o = rates.details("o", { publish: 9 }, { msg_rates: { ageS: 20, incrS: 5 } }, T0 + 16_000)["publish_details"] as { samples: Sample[] };
  // 10000 is before the third tick (10300): still 5; before the first tick a key the sampler
  // found at its start repeats its oldest value (it existed; no fake rate spike)
  assert.deepEqual(
    o.samples.map((s) => s.sample),
    [9, 5, 5, 5, 5],
  );
});

test("a vanished object's history is dropped and its memory returned", () => {
  const { objects, rates } = sampler();
  objects.set("q:/\u0000gone", { messages: 1 });
  rates.tick(T0);
  const held = rates.storedValues;
  assert.ok(held > 0);
  objects.delete("q:/\u0000gone");
  rates.tick(T0 + 5000);
  assert.equal(rates.storedValues, 0);
  const d = rates.details("q:/\u0000gone", { messages: 0 }, { lengths: { ageS: 10, incrS: 5 } }, T0 + 6000)["messages_details"] as { samples: Sample[] };
  assert.deepEqual(
    d.samples.map((s) => s.sample),
    [0, 0, 0],
  );
});

test("history stays within its budget however many objects there are", () => {
  const budget = 50_000;
  const { objects, rates } = sampler(5000, budget);
  for (let i = 0; i < 2000; i++) objects.set(`q:/\u0000q${i}`, { messages: i, publish: i });
  rates.tick(T0);
  rates.tick(T0 + 5000);
  assert.ok(rates.storedValues <= budget, `${rates.storedValues} > ${budget}`);
  assert.ok(rates.storedValues > budget / 2);
  // an object past the budget still answers, its samples repeating the current value
  const d = rates.details("q:/\u0000q1999", { messages: 1999 }, { lengths: { ageS: 10, incrS: 5 } }, T0 + 6000)["messages_details"] as { samples: Sample[] };
  assert.deepEqual(
    d.samples.map((s) => s.sample),
    [1999, 1999, 1999],
  );
});

test("history ranges as RabbitMQ 3.10 reads them: both integers or ignored; positive, at most 500 steps, or 400", () => {
  assert.deepEqual(parseRanges(new URL("http://x/?lengths_age=600&lengths_incr=5")), { lengths: { ageS: 600, incrS: 5 } });
  assert.deepEqual(parseRanges(new URL("http://x/?msg_rates_age=500&msg_rates_incr=1")), { msg_rates: { ageS: 500, incrS: 1 } });
  for (const q of ["columns=name", "lengths_age=60", "data_rates_age=x&data_rates_incr=5", "lengths_age=60&lengths_incr=1.5"]) {
    assert.deepEqual(parseRanges(new URL(`http://x/?${q}`)), {}, q);
  }
  for (const q of ["msg_rates_age=60&msg_rates_incr=0", "lengths_age=501&lengths_incr=1", "lengths_age=3600&lengths_incr=5", "lengths_age=-5&lengths_incr=5"]) {
    assert.throws(
      () => parseRanges(new URL(`http://x/?${q}`)),
      (e: unknown) => e instanceof HttpError && e.status === 400,
      q,
    );
  }
});
