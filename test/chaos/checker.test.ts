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
