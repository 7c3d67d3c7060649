/**
 * The FIFO ready list with its compact tail (src/broker/ready-list.ts, paged-tail.ts), in
 * process: entries whose bodies are on disk become typed-array records and come back as
 * equal entries, in publish order, mixed with entries kept as objects; requeues go back in
 * front; the counts the management API reads stay exact. Pins RabbitMQ's FIFO contract for a
 * classic queue (requeued messages return to their original position) on the paged path.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { FifoReadyList, PriorityReadyList } from "../../../src/broker/ready-list.js";
import { Message, QueueEntry } from "../../../src/broker/message.js";
import type { BasicProperties } from "../../../src/amqp/properties.js";

const persistent: BasicProperties = { deliveryMode: 2 };
const transient: BasicProperties = { deliveryMode: 1 };
const rawP = Buffer.from([0x10, 0x00, 2]);
const rawT = Buffer.from([0x10, 0x00, 1]);

let seq = 0;
/** an entry as a queue makes it; `paged` = body on disk under storeId */
function entry(opts: { paged: boolean; persistent?: boolean; rk?: string; size?: number; expiresAt?: number; deliveries?: number }): QueueEntry {
  const p = opts.persistent ?? false;
  const size = opts.size ?? 10;
  const m = new Message("ex", opts.rk ?? "rk", p ? persistent : transient, p ? rawP : rawT, opts.paged ? null : Buffer.alloc(size), size, 0);
  m.refs = 1;
  m.storeId = opts.paged ? 1000 + seq : 0;
  return new QueueEntry(m, ++seq, opts.expiresAt ?? 0, opts.deliveries ?? 0);
}

test("encoded entries come back equal and in order, mixed with objects, across blocks", () => {
  const l = new FifoReadyList();
  const pushed: QueueEntry[] = [];
  // an in-memory head, then a tail of 40,000 (more than two blocks), every 7th kept as an object
  for (let i = 0; i < 100; i++) {
    const e = entry({ paged: false });
    pushed.push(e);
    l.push(e);
  }
  for (let i = 0; i < 40_000; i++) {
    const obj = i % 7 === 0;
    const e = entry({ paged: !obj, persistent: i % 2 === 0, rk: i % 3 === 0 ? "a" : "b", size: i % 100, expiresAt: i % 5 === 0 ? 123_456 + i : 0, deliveries: i % 11 === 0 ? 1 : 0 });
    pushed.push(e);
    l.push(e, !obj);
  }
  assert.equal(l.length, 40_100);
  assert.equal(l.encoded, 40_000 - Math.ceil(40_000 / 7));
  assert.equal(
    l.bytes,
    pushed.reduce((n, e) => n + e.msg.bodySize, 0),
  );
  assert.equal(l.paged, l.encoded);
  for (const want of pushed) {
    assert.equal(l.peek()!.seq, want.seq);
    const got = l.shift()!;
    assert.equal(got.seq, want.seq);
    assert.equal(got.expiresAt, want.expiresAt);
    assert.equal(got.deliveryCount, want.deliveryCount);
    assert.equal(got.msg.storeId, want.msg.storeId);
    assert.equal(got.msg.bodySize, want.msg.bodySize);
    assert.equal(got.msg.routingKey, want.msg.routingKey);
    assert.equal(got.msg.exchange, "ex");
    assert.equal(got.msg.properties, want.msg.properties);
    assert.equal(got.msg.propertiesRaw, want.msg.propertiesRaw);
    assert.equal(got.msg.body === null, want.msg.body === null);
  }
  assert.equal(l.length, 0);
  assert.equal(l.shift(), undefined);
  assert.equal(l.bytes, 0);
  assert.equal(l.paged, 0);
  assert.equal(l.persistent, 0);
});

test("a requeued entry goes back in front of the compact tail", () => {
  const l = new FifoReadyList();
  const a = entry({ paged: true });
  const b = entry({ paged: true });
  const c = entry({ paged: true });
  l.push(a, true);
  l.push(b, true);
  l.push(c, true);
  const first = l.shift()!;
  assert.equal(first.seq, a.seq);
  first.deliveryCount++;
  l.requeue(first);
  assert.deepEqual(
    [l.shift()!, l.shift()!, l.shift()!].map((e) => [e.seq, e.deliveryCount]),
    [
      [a.seq, 1],
      [b.seq, 0],
      [c.seq, 0],
    ],
  );
});

test("clear hands every entry over once and leaves the counts at zero", () => {
  const l = new FifoReadyList();
  for (let i = 0; i < 20_000; i++) {
    const e = entry({ paged: i > 10, persistent: true });
    l.push(e, i > 10);
  }
  const seen = new Set<number>();
  assert.equal(
    l.clear((e) => seen.add(e.seq)),
    20_000,
  );
  assert.equal(seen.size, 20_000);
  assert.equal(l.length, 0);
  assert.equal(l.persistent, 0);
  assert.equal(l.persistentBytes, 0);
  // usable again afterwards
  l.push(entry({ paged: true }), true);
  assert.equal(l.length, 1);
});

test("counts stay exact when a shared message's body is read back by another queue meanwhile", () => {
  const l = new FifoReadyList();
  const e = entry({ paged: true });
  l.push(e, false); // kept as an object: another queue holds the same Message
  assert.equal(l.paged, 1);
  e.msg.body = Buffer.alloc(e.msg.bodySize); // the other queue delivered it and read the body
  l.shift();
  assert.equal(l.paged, 0);
  assert.equal(l.pagedBytes, 0);
});

test("a priority list keeps each level's paged backlog compact, serves highest first, FIFO within a level, requeues in place", () => {
  // RabbitMQ's priority queues: higher priorities first, FIFO within one priority, a requeued
  // message back at its original position in its priority.
  const l = new PriorityReadyList(3);
  const pushed: QueueEntry[] = [];
  for (let i = 0; i < 20_000; i++) {
    const e = entry({ paged: true, persistent: i % 2 === 0, size: 1 + (i % 50) });
    e.msg.properties = { ...e.msg.properties, priority: i % 4 };
    pushed.push(e);
    l.push(e, true);
  }
  assert.equal(l.length, 20_000);
  assert.equal(l.encoded, 20_000, "every paged entry is a compact record");
  assert.equal(
    l.bytes,
    pushed.reduce((n, e) => n + e.msg.bodySize, 0),
  );
  assert.equal(l.persistent, 10_000);
  const order = [...pushed].sort((a, b) => (b.msg.properties.priority ?? 0) - (a.msg.properties.priority ?? 0) || a.seq - b.seq);
  // take the first two, requeue the first: it comes back first
  const first = l.shift()!;
  assert.equal(first.seq, order[0]!.seq);
  assert.equal(l.shift()!.seq, order[1]!.seq);
  l.requeue(first);
  assert.equal(l.peek()!.seq, order[0]!.seq);
  const got: number[] = [];
  for (let e = l.shift(); e !== undefined; e = l.shift()) got.push(e.seq);
  assert.deepEqual(got, [order[0]!.seq, ...order.slice(2).map((e) => e.seq)]);
  assert.equal(l.length, 0);
  assert.equal(l.bytes, 0);
  assert.equal(l.encoded, 0);
  assert.equal(l.persistent, 0);
});

test("a priority list withdraws failed writes from every level, compact or not", () => {
  const l = new PriorityReadyList(2);
  const all: QueueEntry[] = [];
  for (let i = 0; i < 300; i++) {
    const e = entry({ paged: i >= 100, persistent: true });
    e.msg.storeId = 5000 + i; // store ids grow in publish order
    e.msg.properties = { ...e.msg.properties, priority: i % 3 };
    all.push(e);
    l.push(e, i >= 100);
  }
  const failed = new Set([5050, 5150, 5151, 5299]);
  const removed = l.withdraw(failed, 5050);
  assert.deepEqual(removed.map((e) => e.msg.storeId).sort(), [...failed].sort());
  assert.equal(l.length, 296);
  assert.equal(
    l.bytes,
    all.filter((e) => !failed.has(e.msg.storeId)).reduce((n, e) => n + e.msg.bodySize, 0),
  );
  const left: number[] = [];
  for (let e = l.shift(); e !== undefined; e = l.shift()) left.push(e.msg.storeId);
  assert.ok(!left.some((id) => failed.has(id)));
  assert.equal(left.length, 296);
});
