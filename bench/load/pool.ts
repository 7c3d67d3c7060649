/**
 * Main-thread side of the load generator: starts role workers, waits until
 * they are connected, samples their shared counters, stops them.
 *
 * Owns: worker lifecycle and bounded waiting (every wait has a deadline).
 * Does not own: what a scenario measures. Invariants: stop() always leaves no
 * worker running (terminate() after a grace period), and rethrows the first
 * worker error so a scenario never reports figures from a failed run.
 */
import { Worker } from "node:worker_threads";
import { G_RECORD, G_STOP, W_STATE, newCounters, slot, type RoleSpec, type WorkerReport } from "./shared.js";

const WORKER_URL = new URL("./worker.js", import.meta.url);

export class LoadPool {
  readonly counters: Int32Array;
  private workers: (Worker | null)[];
  private exits: Promise<void>[] = [];
  private reports: (WorkerReport | null)[];

  constructor(readonly specs: RoleSpec[]) {
    this.counters = newCounters(specs.length);
    this.workers = specs.map(() => null);
    this.reports = specs.map(() => null);
  }

  indexes(kind: RoleSpec["kind"]): number[] {
    return this.specs.flatMap((s, i) => (s.kind === kind ? [i] : []));
  }

  /** start the given workers and wait until each has set up its connections */
  async start(indexes: number[], timeoutMs = 60_000): Promise<void> {
    for (const i of indexes) {
      const w = new Worker(WORKER_URL, { workerData: { index: i, counters: this.counters, spec: this.specs[i] } });
      this.workers[i] = w;
      w.on("message", (r: WorkerReport) => (this.reports[i] = r));
      this.exits.push(
        new Promise((resolve) => {
          w.once("exit", () => resolve());
          w.once("error", (e) => {
            this.reports[i] = { kind: "error", message: String(e) };
            Atomics.store(this.counters, slot(i, W_STATE), -1);
          });
        }),
      );
    }
    await this.waitFor(() => indexes.every((i) => this.state(i) !== 0), timeoutMs, "workers to connect");
  }

  state(i: number): number {
    this.throwIfFailed();
    return Atomics.load(this.counters, slot(i, W_STATE));
  }

  /** sum one counter field over the given workers */
  sum(field: number, indexes: number[]): number {
    let s = 0;
    for (const i of indexes) s += Atomics.load(this.counters, slot(i, field));
    return s;
  }

  setRecording(on: boolean): void {
    Atomics.store(this.counters, G_RECORD, on ? 1 : 0);
  }

  throwIfFailed(): void {
    const bad = this.reports.find((r) => r?.kind === "error");
    if (bad && bad.kind === "error") throw new Error(`load worker failed: ${bad.message}`);
  }

  async waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      this.throwIfFailed();
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(5);
    }
  }

  /** stop every worker (grace period, then terminate); returns latency samples of all consumers */
  async stop(graceMs = 10_000): Promise<Float64Array[]> {
    Atomics.store(this.counters, G_STOP, 1);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([Promise.all(this.exits).then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs)))]);
    clearTimeout(timer);
    if (timedOut) await Promise.all(this.workers.map((w) => w?.terminate()));
    this.throwIfFailed();
    return this.reports.flatMap((r) => (r?.kind === "done" && r.latenciesUs ? [r.latenciesUs] : []));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
