/**
 * The consumer role (runs in a worker thread): N connections, one channel
 * each, basic.consume on its share of the queues; counts whole messages,
 * acks (multiple=true every ackEvery deliveries, or at a fixed slow rate) and optionally records
 * end-to-end latency from a send time stamped in the body.
 *
 * Owns: the consumed counter and latency samples. Does not own: declaring
 * queues. Invariants: acks for one socket chunk leave in one write; counters
 * are published once per chunk; nothing is allocated per delivery except
 * when latency recording is on.
 */
import { BenchConn } from "../wire/conn.js";
import * as C from "../wire/codec.js";
import { G_RECORD, G_STOP, W_CONSUMED, W_STATE, nowUs, slot, type ConsumerSpec } from "./shared.js";

export async function runConsumer(index: number, counters: Int32Array, spec: ConsumerSpec): Promise<Float64Array | null> {
  const sConsumed = slot(index, W_CONSUMED);
  let consumed = 0;
  const lat = spec.stamp ? new Float64Array(spec.latencyCapacity) : null;
  let nLat = 0;

  const groups: string[][] = Array.from({ length: Math.max(1, spec.connections) }, () => []);
  spec.queues.forEach((q, i) => groups[i % groups.length]!.push(q));
  const conns: BenchConn[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    for (const queues of groups) {
      if (queues.length === 0) continue;
      const conn = await BenchConn.open({ url: spec.url });
      conns.push(conn);
      await conn.openChannel(1);
      if (!spec.noAck) await conn.call(C.basicQos(1, spec.prefetch), 1, C.M.basicQosOk);
      let lastTag = 0;
      let unacked = 0;
      let acks: number[] = [];
      conn.onDeliver = (_ch, tag) => {
        lastTag = tag;
      };
      const ackRate = spec.noAck ? 0 : (spec.ackRate ?? 0);
      // slow consumer: tags wait here and are acked at ackRate (bench-only, so an array is fine)
      const held: number[] = [];
      if (ackRate > 0) {
        const t0 = performance.now();
        let acked = 0;
        timers.push(
          setInterval(() => {
            const allowed = Math.floor(((performance.now() - t0) * ackRate) / 1000);
            // no saved-up credit: a consumer that had nothing to ack does not burst later
            if (held.length === 0) acked = allowed;
            const due = Math.min(held.length, allowed - acked);
            if (due <= 0) return;
            const tag = held[due - 1]!;
            held.splice(0, due);
            acked += due;
            const out = Buffer.allocUnsafe(C.BASIC_ACK_LEN);
            C.writeBasicAck(out, 0, 1, tag, true);
            conn.write(out);
          }, 5),
        );
      }
      conn.onMessage = () => {
        consumed++;
        if (spec.noAck) return;
        if (ackRate > 0) {
          held.push(lastTag);
          return;
        }
        if (++unacked >= spec.ackEvery) {
          acks.push(lastTag);
          unacked = 0;
        }
      };
      if (lat) {
        conn.onBody = (_ch, buf, start) => {
          if (nLat < lat.length && Atomics.load(counters, G_RECORD) === 1) lat[nLat++] = nowUs() - buf.readDoubleBE(start);
        };
      }
      conn.afterChunk = () => {
        Atomics.store(counters, sConsumed, consumed);
        if (acks.length === 0) return;
        const out = Buffer.allocUnsafe(acks.length * C.BASIC_ACK_LEN);
        for (let i = 0; i < acks.length; i++) C.writeBasicAck(out, i * C.BASIC_ACK_LEN, 1, acks[i]!, true);
        acks = [];
        conn.write(out);
      };
      for (let i = 0; i < queues.length; i++) {
        await conn.call(C.basicConsume(1, queues[i]!, `bench-${index}-${i}`, spec.noAck), 1, C.M.basicConsumeOk);
      }
    }
    Atomics.store(counters, slot(index, W_STATE), 1);
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        const failed = conns.find((c) => c.error);
        if (Atomics.load(counters, G_STOP) === 1 || failed) {
          clearInterval(t);
          if (failed && Atomics.load(counters, G_STOP) !== 1) reject(failed.error);
          else resolve();
        }
      }, 10);
    });
  } finally {
    for (const t of timers) clearInterval(t);
    Atomics.store(counters, sConsumed, consumed);
    await Promise.all(conns.map((c) => c.close()));
  }
  return lat ? lat.slice(0, nLat) : null;
}
