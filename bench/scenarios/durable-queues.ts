/**
 * s10: N (default 100,000) durable queues: time to declare them all (32
 * channels, one synchronous declare at a time each), broker memory per queue
 * (RSS delta ÷ N), and restart-to-serving time: from asking the broker to
 * restart until a new connection can passively declare the last queue.
 * RabbitMQ is restarted only with --rabbitmq-restart-cmd; otherwise n/a.
 * The queues are deleted afterwards unless the broker is a throwaway one.
 */
import * as C from "../wire/codec.js";
import { control, deleteQueues, parallelCalls, uniqueName } from "./common.js";
import { sleep } from "../load/pool.js";
import type { Scenario } from "./types.js";

export const s10: Scenario = {
  id: "s10",
  title: "many durable queues: declare, memory, restart",
  metrics: (o) => [
    { key: "declare", label: `declare ${o.s10Queues.toLocaleString("en")} s`, unit: "s", better: "lower" },
    { key: "mem", label: "KB per queue", unit: "KB", better: "lower" },
    { key: "restart", label: "restart-to-serving s", unit: "s", better: "lower", targetRatio: 0.1 },
  ],
  run: async (b, o) => {
    const prefix = uniqueName("bench-s10");
    const names = Array.from({ length: o.s10Queues }, (_, i) => `${prefix}-${i}`);
    try {
      const before = await b.memoryBytes();
      const c = await control(b.url);
      const t0 = performance.now();
      try {
        await parallelCalls(c, names, 32, (q, ch) => c.call(C.queueDeclare(ch, q, { durable: true }), ch, C.M.queueDeclareOk));
      } finally {
        await c.close();
      }
      const declare = (performance.now() - t0) / 1000;
      await sleep(1000);
      const mem = (await b.memoryBytes()) - before;
      o.log(`  ${b.name}: declared ${names.length} in ${declare.toFixed(1)} s; restarting`);
      const restartMs = await b.restart(names[names.length - 1]!);
      return { declare, mem: mem / names.length / 1024, restart: restartMs === null ? null : restartMs / 1000 };
    } finally {
      if (!b.disposable) {
        o.log(`  ${b.name}: deleting ${names.length} queues`);
        await deleteQueues(b.url, names);
      }
    }
  },
};
