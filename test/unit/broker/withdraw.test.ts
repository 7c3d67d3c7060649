/**
 * ReadyList.withdraw (src/broker/ready-list.ts): the entries of publishes whose write failed are
 * taken out of a ready list — from the compact tail, the in-memory head and priority levels —
 * and nothing else moves: the rest keep their order and the counts stay exact. The broker uses
 * it so that a nacked message is never delivered (RabbitMQ's confirm contract: a nack means the
 * broker did not take responsibility; the disk-full test checks it end to end).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { FifoReadyList, PriorityReadyList, type ReadyList } from "../../../src/broker/ready-list.js";
import { Message, QueueEntry } from "../../../src/broker/message.js";
import type { BasicProperties } from "../../../src/amqp/properties.js";

const raw = Buffer.from([0x10, 0x00, 2]);
let seq = 0;
let nextStoreId = 1;

function entry(paged: boolean, priority?: number): QueueEntry {
  const props: BasicProperties = priority === undefined ? { deliveryMode: 2 } : { deliveryMode: 2, priority };
  const m = new Message("ex", "rk", props, raw, paged ? null : Buffer.alloc(10), 10, 0);
  m.refs = 1;
  m.storeId = nextStoreId++;
  return new QueueEntry(m, ++seq, 0, 0);
}

function drainIds(l: ReadyList): number[] {
  const out: number[] = [];
  for (let e = l.shift(); e !== undefined; e = l.shift()) out.push(e.msg.storeId);
  return out;
}

test("FIFO: withdrawn entries leave the compact tail and the head; the rest keep order and counts", () => {
  const l = new FifoReadyList();
  const ids: number[] = [];
  for (let i = 0; i < 50; i++) {
    const e = entry(false);
    ids.push(e.msg.storeId);
    l.push(e);
  }
  for (let i = 0; i < 40_000; i++) {
    const e = entry(true);
    ids.push(e.msg.storeId);
    l.push(e, i % 9 !== 0); // every 9th kept as an object among the records
  }
  // withdraw a few in the head's last part and scattered through the newest tail records
  const gone = new Set([ids[45]!, ids[49]!, ids[50]!, ids[39_990]!, ids[40_049]!, ids[40_000]!]);
  const minId = Math.min(...gone);
  const removed = l.withdraw(gone, minId);
  assert.deepEqual(
    removed.map((e) => e.msg.storeId).sort((a, b) => a - b),
    [...gone].sort((a, b) => a - b),
  );
  assert.equal(l.length, ids.length - gone.size);
  assert.equal(l.bytes, (ids.length - gone.size) * 10);
  assert.equal(l.persistent, ids.length - gone.size);
  assert.deepEqual(
    drainIds(l),
    ids.filter((id) => !gone.has(id)),
  );
  assert.equal(l.bytes, 0);
  assert.equal(l.paged, 0);
});

test("FIFO: the walk stops at the first entry older than the oldest withdrawn id", () => {
  const l = new FifoReadyList();
  const es = Array.from({ length: 10 }, () => entry(true));
  for (const e of es) l.push(e, true);
  // an id that is not in the range looked at is left alone (it is older than minId)
  const removed = l.withdraw(new Set([es[2]!.msg.storeId, es[8]!.msg.storeId]), es[8]!.msg.storeId);
  assert.deepEqual(
    removed.map((e) => e.msg.storeId),
    [es[8]!.msg.storeId],
  );
  assert.deepEqual(
    drainIds(l),
    es.filter((_, i) => i !== 8).map((e) => e.msg.storeId),
  );
});

test("FIFO: a materialised front entry can be withdrawn too", () => {
  const l = new FifoReadyList();
  const a = entry(true);
  l.push(a, true);
  assert.equal(l.peek()!.msg.storeId, a.msg.storeId); // peek materialises the front record
  const removed = l.withdraw(new Set([a.msg.storeId]), a.msg.storeId);
  assert.equal(removed.length, 1);
  assert.equal(l.length, 0);
  assert.equal(l.peek(), undefined);
  const b = entry(true);
  l.push(b, true);
  assert.deepEqual(drainIds(l), [b.msg.storeId]);
});

test("priority: withdrawn entries leave every level, the rest come out by priority then order", () => {
  const l = new PriorityReadyList(3);
  const es: QueueEntry[] = [];
  for (let i = 0; i < 40; i++) {
    const e = entry(false, i % 4);
    es.push(e);
    l.push(e);
  }
  const gone = new Set([es[5]!.msg.storeId, es[6]!.msg.storeId, es[39]!.msg.storeId]);
  const removed = l.withdraw(gone, es[5]!.msg.storeId);
  assert.equal(removed.length, 3);
  assert.equal(l.length, 37);
  assert.equal(l.bytes, 370);
  const want = [3, 2, 1, 0].flatMap((p) => es.filter((e) => e.msg.properties.priority === p && !gone.has(e.msg.storeId)).map((e) => e.msg.storeId));
  assert.deepEqual(drainIds(l), want);
});
