/**
 * Resource alarms like RabbitMQ's: memory above the high watermark or free disk
 * below the limit blocks publishing connections (connection.blocked) until the
 * alarm clears. Polled every second (cheap; not on the message path).
 */
import { statfsSync } from "node:fs";
import type { Broker } from "../broker/broker.js";

export function startAlarms(broker: Broker, dataDir: string | null, memoryHighWatermark: number, diskFreeLimit: number): () => void {
  if (memoryHighWatermark <= 0 && (diskFreeLimit <= 0 || !dataDir)) return () => {};
  const t = setInterval(() => {
    if (memoryHighWatermark > 0) {
      const rss = process.memoryUsage.rss();
      const on = broker.alarms.has("memory");
      // 10% hysteresis so the alarm does not flap at the boundary
      if (!on && rss > memoryHighWatermark) {
        broker.log.warn(`memory resource limit alarm set: ${rss} bytes used, limit ${memoryHighWatermark}`);
        broker.setAlarm("memory", true);
      } else if (on && rss < memoryHighWatermark * 0.9) {
        broker.log.warn(`memory resource limit alarm cleared`);
        broker.setAlarm("memory", false);
      }
    }
    if (diskFreeLimit > 0 && dataDir) {
      try {
        const s = statfsSync(dataDir);
        const free = s.bavail * s.bsize;
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
  }, 1000);
  t.unref();
  return () => clearInterval(t);
}
