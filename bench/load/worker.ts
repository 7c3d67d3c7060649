/**
 * Entry point of a load worker thread: runs one role (publisher or consumer)
 * from workerData and reports back once with latencies or an error.
 *
 * Owns nothing but the dispatch; the roles live in publisher.ts / consumer.ts.
 */
import { parentPort, workerData } from "node:worker_threads";
import { runPublisher } from "./publisher.js";
import { runConsumer } from "./consumer.js";
import { W_STATE, slot, type WorkerData, type WorkerReport } from "./shared.js";

const data = workerData as WorkerData;

async function main(): Promise<WorkerReport> {
  if (data.spec.kind === "publish") {
    await runPublisher(data.index, data.counters, data.spec);
    return { kind: "done", latenciesUs: null };
  }
  const latenciesUs = await runConsumer(data.index, data.counters, data.spec);
  return { kind: "done", latenciesUs };
}

main().then(
  (r) => parentPort!.postMessage(r),
  (e: unknown) => {
    Atomics.store(data.counters, slot(data.index, W_STATE), -1);
    parentPort!.postMessage({ kind: "error", message: e instanceof Error ? e.message : String(e) } satisfies WorkerReport);
  },
);
