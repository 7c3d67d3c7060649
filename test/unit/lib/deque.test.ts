/** Deque: FIFO ops, growth across the ring boundary, positional insert/remove against an array model. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Deque } from "../../../src/lib/deque.js";

test("deque behaves like an array under random operations", () => {
  let seed = 42;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const d = new Deque<number>();
  const model: number[] = [];
  for (let i = 0; i < 20000; i++) {
    const op = Math.floor(rnd() * 7);
    if (op === 0) {
      d.push(i);
      model.push(i);
    } else if (op === 1) {
      d.unshift(i);
      model.unshift(i);
    } else if (op === 2) assert.equal(d.shift(), model.shift());
    else if (op === 3) assert.equal(d.pop(), model.pop());
    else if (op === 4) {
      const k = Math.floor(rnd() * (model.length + 1));
      d.insertAt(k, i);
      model.splice(k, 0, i);
    } else if (op === 5 && model.length) {
      const k = Math.floor(rnd() * model.length);
      assert.equal(d.removeAt(k), model.splice(k, 1)[0]);
    } else assert.equal(d.peek(), model[0]);
    assert.equal(d.length, model.length);
  }
  assert.deepEqual(d.toArray(), model);
});
