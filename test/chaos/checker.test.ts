/**
 * The chaos checker (test/chaos/checker.ts) on hand-made histories: it must find a confirmed
 * message that was never delivered, a delivery nobody published, duplicates, a reordering, and
 * the largest gap between confirms — otherwise a chaos run reporting "0 lost" means nothing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { check, newHistory, type History, type Outcome } from "./checker.js";

function history(ops: [string, string, Outcome, number][], deliveries: [string, string, boolean][]): History {
  const h = newHistory();
  h.window = [0, 1000];
  for (const [id, queue, outcome, doneAt] of ops) {
    const [pub, seq] = id.split(":") as [string, string];
    h.publishes.set(id, { id, pub, seq: Number(seq), queue, invokeAt: doneAt - 1, outcome, doneAt });
  }
  let t = 0;
  for (const [id, queue, redelivered] of deliveries) h.deliveries.push({ id, queue, redelivered, at: t++, node: 0 });
  return h;
}

test("a clean history: nothing lost, unexpected, duplicated or reordered", () => {
  const v = check(
    history(
      [
        ["p:0", "q", "ok", 100],
        ["p:1", "q", "ok", 200],
      ],
      [
        ["p:0", "q", false],
        ["p:1", "q", false],
      ],
    ),
  );
  assert.deepEqual([v.lost, v.unexpected, v.duplicated, v.orderViolations, v.recovered], [0, 0, 0, 0, 0]);
  assert.equal(v.ok, 2);
});

test("confirmed but never delivered is lost; an unconfirmed one is not", () => {
  const v = check(
    history(
      [
        ["p:0", "q", "ok", 100],
        ["p:1", "q", "ok", 200],
        ["p:2", "q", "info", 300],
      ],
      [["p:0", "q", false]],
    ),
  );
  assert.equal(v.lost, 1);
  assert.deepEqual(v.lostSample, ["p:1@q"]);
  assert.equal(v.info, 1);
});

test("a delivery never published, or from another queue, is unexpected", () => {
  const v = check(
    history(
      [["p:0", "q", "ok", 100]],
      [
        ["p:0", "q", false],
        ["x:9", "q", false],
        ["p:0", "other", false],
      ],
    ),
  );
  assert.equal(v.unexpected, 2);
  assert.equal(v.lost, 0);
});

test("duplicates are counted, a nacked message delivered anyway is recovered", () => {
  const v = check(
    history(
      [
        ["p:0", "q", "ok", 100],
        ["p:1", "q", "fail", 150],
      ],
      [
        ["p:0", "q", false],
        ["p:0", "q", true],
        ["p:1", "q", false],
      ],
    ),
  );
  assert.equal(v.duplicated, 1);
  assert.equal(v.recovered, 1);
});

test("a confirmed first delivery overtaking a later seq of the same publisher and queue is an order violation; a redelivery or a nacked one is not", () => {
  const v = check(
    history(
      [
        ["p:0", "q", "ok", 100],
        ["p:1", "q", "ok", 110],
        ["p:2", "q", "ok", 120],
        ["r:0", "q", "ok", 130],
      ],
      [
        ["p:1", "q", false],
        ["p:0", "q", true],
        ["r:0", "q", false],
        ["p:2", "q", false],
      ],
    ),
  );
  assert.equal(v.orderViolations, 0);
  const w = check(
    history(
      [
        ["p:0", "q", "ok", 100],
        ["p:1", "q", "ok", 110],
      ],
      [
        ["p:1", "q", false],
        ["p:0", "q", false],
      ],
    ),
  );
  assert.equal(w.orderViolations, 1);
  // a nacked publish arriving late is recovered, not reordered
  const x = check(
    history(
      [
        ["p:0", "q", "fail", 100],
        ["p:1", "q", "ok", 110],
      ],
      [
        ["p:1", "q", false],
        ["p:0", "q", false],
      ],
    ),
  );
  assert.equal(x.orderViolations, 0);
  assert.equal(x.recovered, 1);
});

test("the largest gap between confirms, the window's edges included", () => {
  const v = check(
    history(
      [
        ["p:0", "q", "ok", 100],
        ["p:1", "q", "ok", 700],
        ["p:2", "q", "ok", 800],
      ],
      [],
    ),
  );
  assert.equal(v.queues[0]!.maxGapMs, 600);
  assert.equal(v.queues[0]!.maxGapAtMs, 100);
});

test("an acked message delivered again is 'acked back' unless it was acked just before the fault that preceded its redelivery", () => {
  const h = newHistory();
  h.window = [0, 60_000];
  for (let i = 0; i < 5; i++) h.publishes.set(`p:${i}`, { id: `p:${i}`, pub: "p", seq: i, queue: "q", invokeAt: 0, outcome: "ok", doneAt: 1 });
  h.faults = [
    [20_000, 28_000],
    [40_000, 48_000],
  ];
  const at = (id: string, t: number, acked: boolean, redelivered = false): void => {
    h.deliveries.push({ id, queue: "q", redelivered, at: t, node: 0, acked });
  };
  at("p:0", 5_000, true); // acked 15 s before the fault: must not come back
  at("p:1", 19_000, true); // acked 1 s before the fault began: may have been cut off with it
  at("p:2", 10_000, false); // ch.ack threw: never acked
  at("p:3", 20_500, true); // acked during the fault (the new leader's delivery), back after the next one
  at("p:4", 21_000, true); // acked during the fault (a deposed leader took it), redelivered at once
  at("p:4", 21_700, true, true);
  at("p:0", 30_000, true, true);
  at("p:1", 30_001, true, true);
  at("p:2", 30_002, true, true);
  at("p:3", 41_000, true, true);
  const v = check(h);
  assert.equal(v.duplicated, 5);
  assert.equal(v.ackedBack, 2);
  assert.deepEqual(v.ackedBackSample, ["p:0@q acked at +5000 ms, back at +30000 ms", "p:3@q acked at +20500 ms, back at +41000 ms"]);
  // no fault at all: every acked message that came back counts
  h.faults = [];
  assert.equal(check(h).ackedBack, 4);
});
