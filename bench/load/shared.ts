/**
 * The shared-memory contract between the bench's main thread and its load
 * worker threads: one Int32Array over a SharedArrayBuffer.
 *
 * Owns: the slot layout and the role specs sent as workerData. Does not own:
 * the roles themselves (publisher.ts, consumer.ts). Invariants: every slot has
 * exactly one writer (a worker writes its own block, main writes the global
 * flags), readers use Atomics.load, so counters never need locks. Counters are
 * updated once per socket chunk or write batch, not per message.
 */

export const G_STOP = 0; // main → workers: 1 = stop now
export const G_RECORD = 1; // main → workers: 1 = record latency samples
export const GLOBAL_SLOTS = 8;
export const SLOTS_PER_WORKER = 8;
export const W_STATE = 0; // 0 starting, 1 ready, 2 finished (count reached), -1 failed
export const W_PUBLISHED = 1;
export const W_CONFIRMED = 2;
export const W_CONSUMED = 3;

export function slot(worker: number, field: number): number {
  return GLOBAL_SLOTS + worker * SLOTS_PER_WORKER + field;
}

export function newCounters(workers: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * (GLOBAL_SLOTS + workers * SLOTS_PER_WORKER)));
}

export interface PublisherSpec {
  kind: "publish";
  url: string;
  exchange: string;
  /** messages cycle through these routing keys */
  routingKeys: string[];
  bodySize: number;
  persistent: boolean;
  /** 0 = no publisher confirms; otherwise confirm.select with at most this many unconfirmed */
  confirmWindow: number;
  /** msgs/s; 0 = as fast as the socket drains */
  rate: number;
  /** stop after this many messages */
  maxCount: number;
  /** stamp each body with the send time (for latency) */
  stamp: boolean;
  /**
   * Keep the broker's backlog bounded: pause while published × fanout −
   * consumed (summed over the consumer workers) exceeds limit.
   */
  backlog: { limit: number; fanout: number; consumerWorkers: number[] } | null;
}

export interface ConsumerSpec {
  kind: "consume";
  url: string;
  queues: string[];
  /** queues are spread round-robin over this many connections (one channel each) */
  connections: number;
  noAck: boolean;
  prefetch: number;
  /** send basic.ack multiple=true after this many deliveries */
  ackEvery: number;
  /**
   * A slow consumer: ack at most this many messages per second (oldest first, multiple=true,
   * every 5 ms); 0 = ack as soon as ackEvery deliveries arrived. Needs noAck false.
   */
  ackRate?: number;
  /** read the send time from each body and record latency while G_RECORD is set */
  stamp: boolean;
  latencyCapacity: number;
}

export type RoleSpec = PublisherSpec | ConsumerSpec;

export interface WorkerData {
  index: number;
  counters: Int32Array;
  spec: RoleSpec;
}

export type WorkerReport = { kind: "done"; latenciesUs: Float64Array | null } | { kind: "error"; message: string };

/** monotonic, process-wide (shared by all threads) clock in microseconds */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}
