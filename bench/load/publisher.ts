/**
 * The publisher role (runs in a worker thread): one connection, one channel,
 * pre-encoded basic.publish + header + body frames written in large batches.
 *
 * Owns: pacing (as fast as the socket drains, a fixed rate, a confirm window,
 * or a backlog bound) and the published/confirmed counters. Does not own:
 * declaring queues or exchanges (main does that before starting workers).
 * Invariants: never more than maxCount messages; never more than
 * confirmWindow unconfirmed; stops at the next batch once G_STOP is set.
 */
import { BenchConn } from "../wire/conn.js";
import * as C from "../wire/codec.js";
import { G_STOP, W_CONFIRMED, W_CONSUMED, W_PUBLISHED, W_STATE, nowUs, slot, type PublisherSpec } from "./shared.js";

/** aim for writes of about this many bytes: large enough to amortise syscalls */
const BATCH_BYTES = 128 * 1024;

interface Template {
  bytes: Buffer;
  /** ends[i] = byte length of the first i+1 messages */
  ends: number[];
  count: number;
}

function buildTemplate(spec: PublisherSpec, frameMax: number): Template {
  const body = Buffer.alloc(spec.bodySize, 0x61);
  const one = spec.routingKeys.map((rk) => C.encodePublish({ channel: 1, exchange: spec.exchange, routingKey: rk, body, persistent: spec.persistent, frameMax }));
  const parts: Buffer[] = [];
  const ends: number[] = [];
  let len = 0;
  // at least every routing key once, then repeat until the batch is large enough
  for (let i = 0; i < one.length || len < BATCH_BYTES; i++) {
    const m = one[i % one.length]!;
    parts.push(m);
    len += m.length;
    ends.push(len);
    if (parts.length >= 10_000 && i >= one.length) break;
  }
  return { bytes: Buffer.concat(parts, len), ends, count: ends.length };
}

/** Tracks confirmed tags in a ring, so out-of-order single acks are counted once. */
class ConfirmTracker {
  private seen: Uint8Array;
  confirmedUpTo = 0;
  nacks = 0;
  constructor(window: number) {
    this.seen = new Uint8Array(Math.max(1024, window * 4));
  }
  on(tag: number, multiple: boolean, nack: boolean): void {
    if (nack) this.nacks++;
    const n = this.seen.length;
    if (multiple) for (let t = this.confirmedUpTo + 1; t <= tag; t++) this.seen[t % n] = 1;
    else if (tag > this.confirmedUpTo) this.seen[tag % n] = 1;
    while (this.seen[(this.confirmedUpTo + 1) % n] === 1) {
      this.seen[(this.confirmedUpTo + 1) % n] = 0;
      this.confirmedUpTo++;
    }
  }
}

export async function runPublisher(index: number, counters: Int32Array, spec: PublisherSpec): Promise<void> {
  const conn = await BenchConn.open({ url: spec.url });
  await conn.openChannel(1);
  const tracker = spec.confirmWindow > 0 ? new ConfirmTracker(spec.confirmWindow) : null;
  if (tracker) {
    await conn.call(C.confirmSelect(1), 1, C.M.confirmSelectOk);
    conn.onConfirm = (tag, multiple, nack) => tracker.on(tag, multiple, nack);
  }
  const tpl = buildTemplate(spec, conn.frameMax);
  const sPub = slot(index, W_PUBLISHED);
  const sConf = slot(index, W_CONFIRMED);
  const consumedSlots = spec.backlog ? spec.backlog.consumerWorkers.map((w) => slot(w, W_CONSUMED)) : [];
  let published = 0;
  let waitingConfirms = false;
  let finished = false;

  const stopped = () => Atomics.load(counters, G_STOP) === 1 || conn.error !== null;
  const backlogFull = (): boolean => {
    const b = spec.backlog;
    if (!b) return false;
    let consumed = 0;
    for (const s of consumedSlots) consumed += Atomics.load(counters, s);
    return published * b.fanout - consumed > b.limit;
  };

  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const finish = () => {
    if (finished) return;
    finished = true;
    resolveDone();
  };

  /** how many messages may go out now (0 = wait) */
  const allowance = (): number => {
    let n = Math.min(tpl.count, spec.maxCount - published);
    if (tracker) n = Math.min(n, spec.confirmWindow - (published - tracker.confirmedUpTo));
    return n;
  };

  const pumpFast = (): void => {
    while (true) {
      if (stopped()) return finish();
      if (published >= spec.maxCount) {
        Atomics.store(counters, slot(index, W_STATE), 2);
        if (!tracker || tracker.confirmedUpTo >= published) return finish();
      }
      if (backlogFull()) {
        setTimeout(pumpFast, 1);
        return;
      }
      const n = allowance();
      if (n <= 0) {
        waitingConfirms = true; // conn.afterChunk resumes us when confirms arrive
        return;
      }
      const ok = conn.write(n === tpl.count ? tpl.bytes : tpl.bytes.subarray(0, tpl.ends[n - 1]));
      published += n;
      Atomics.store(counters, sPub, published);
      if (!ok) {
        conn.socket.once("drain", pumpFast);
        return;
      }
    }
  };

  if (tracker) {
    conn.afterChunk = () => {
      Atomics.store(counters, sConf, tracker.confirmedUpTo);
      if (waitingConfirms) {
        waitingConfirms = false;
        pumpFast();
      }
    };
  }

  // fixed rate: every millisecond, send what is due, each body stamped with its send time
  const pumpRate = (): void => {
    const start = nowUs();
    const one = tpl.bytes.subarray(0, tpl.ends[0]);
    const bodyAt = C.bodyOffset(one, spec.bodySize);
    const timer = setInterval(() => {
      if (stopped() || published >= spec.maxCount) {
        clearInterval(timer);
        return finish();
      }
      const due = Math.min(Math.floor(((nowUs() - start) * spec.rate) / 1e6) - published, spec.maxCount - published);
      if (due <= 0) return;
      const out = Buffer.allocUnsafe(due * one.length);
      const t = nowUs();
      for (let i = 0; i < due; i++) {
        one.copy(out, i * one.length);
        out.writeDoubleBE(t, i * one.length + bodyAt);
      }
      conn.write(out);
      published += due;
      Atomics.store(counters, sPub, published);
    }, 1);
  };

  conn.closed.then(finish);
  Atomics.store(counters, slot(index, W_STATE), 1);
  if (spec.rate > 0) pumpRate();
  else pumpFast();
  // a watchdog so that a publisher blocked on drain or confirms still sees G_STOP
  const watch = setInterval(() => {
    if (stopped()) finish();
  }, 20);
  await done;
  clearInterval(watch);
  // the broker closed us before we were told to stop: that run's figures are not valid
  if (conn.error && Atomics.load(counters, G_STOP) !== 1) throw conn.error;
  if (tracker) Atomics.store(counters, sConf, tracker.confirmedUpTo);
  await conn.close();
}
