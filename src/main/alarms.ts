/**
 * Resource alarms like RabbitMQ's: memory above the high watermark or free disk
 * below the limit blocks publishing connections (connection.blocked) until the
 * alarm clears. Memory is polled every 250 ms (a fast publisher fills a heap quickly),
 * disk every second; both are cheap and off the message path.
 *
 * The memory alarm also watches V8's heap limit: queue metadata lives on the JS
 * heap, whose limit (by default ~4 GiB, whatever the machine has) can be far below
 * a watermark of 40 % of RAM. Without this, a big enough backlog would end the
 * process with "heap out of memory" before the RSS watermark was ever reached.
 */
import { statfsSync } from "node:fs";
import { getHeapStatistics } from "node:v8";
import { collectGarbage } from "../lib/gc.js";
import type { Broker } from "../broker/broker.js";

/**
 * The part of V8's heap limit that long-lived objects can use: heap_size_limit also counts the
 * young generation (3 × 16 MiB semi-spaces in Node 20 on 64-bit), which queued messages never
 * stay in. The alarm is raised at 80 % of the rest and cleared below 60 %.
 */
const YOUNG_GENERATION = 48 * 1024 * 1024;
const HEAP_ALARM = 0.8;
const HEAP_CLEAR = 0.6;

function heapUse(): { used: number; limit: number; share: number } {
  const h = getHeapStatistics();
  return { used: h.used_heap_size, limit: h.heap_size_limit, share: h.used_heap_size / Math.max(h.heap_size_limit - YOUNG_GENERATION, 1) };
}

/** ticks (of 250 ms) before the first forced collection under a heap alarm; doubles up to a minute */
const GC_FIRST = 4;
const GC_MAX = 240;

export function startAlarms(broker: Broker, dataDir: string | null, memoryHighWatermark: number, diskFreeLimit: number): () => void {
  if (memoryHighWatermark <= 0 && (diskFreeLimit <= 0 || !dataDir)) return () => {};
  let ticks = 0;
  let gcBackoff = GC_FIRST;
  let gcAt = 0;
  const t = setInterval(() => {
    ticks++;
    if (memoryHighWatermark > 0) {
      const rss = process.memoryUsage.rss();
      let heap = heapUse();
      const on = broker.alarms.has("memory");
      // Blocked publishers allocate nothing, so V8 may not collect for a long while and the
      // heap keeps looking full after consumers drained it. Like RabbitMQ's GC under an alarm,
      // collect now and then (1 s, 2 s, 4 s … up to a minute apart: a heap that is really
      // full costs a pause each time) so the alarm clears once the memory is free.
      if (on && heap.share >= HEAP_CLEAR && ticks >= gcAt) {
        if (gcAt === 0) {
          gcAt = ticks + gcBackoff;
        } else {
          collectGarbage();
          heap = heapUse();
          gcBackoff = Math.min(gcBackoff * 2, GC_MAX);
          gcAt = ticks + gcBackoff;
        }
      }
      // hysteresis so the alarm does not flap at the boundary
      if (!on && (rss > memoryHighWatermark || heap.share > HEAP_ALARM)) {
        broker.log.warn(
          rss > memoryHighWatermark
            ? `memory resource limit alarm set: ${rss} bytes used, limit ${memoryHighWatermark}`
            : `memory resource limit alarm set: JS heap ${heap.used} bytes used of its ${heap.limit} byte limit (raise it with node --max-old-space-size=MB)`,
        );
        broker.setAlarm("memory", true);
      } else if (on && rss < memoryHighWatermark * 0.9 && heap.share < HEAP_CLEAR) {
        broker.log.warn(`memory resource limit alarm cleared`);
        broker.setAlarm("memory", false);
        gcBackoff = GC_FIRST;
        gcAt = 0;
      }
    }
    if (diskFreeLimit > 0 && dataDir && ticks % 4 === 0) {
      try {
        const free = freeDiskBytes(dataDir);
        const on = broker.alarms.has("disk");
        if (!on && free < diskFreeLimit) {
          broker.log.warn(`disk resource limit alarm set: ${free} bytes free, limit ${diskFreeLimit}`);
          broker.setAlarm("disk", true);
        } else if (on && free >= diskFreeLimit) {
          broker.log.warn(`disk resource limit alarm cleared`);
          broker.setAlarm("disk", false);
        }
      } catch {
        /* statfs unavailable: no disk alarm */
      }
    }
  }, 250);
  t.unref();
  return () => clearInterval(t);
}

/** Bytes of the data directory's file system available to this (unprivileged) process: f_bavail * f_bsize, as df reports. */
export function freeDiskBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}
