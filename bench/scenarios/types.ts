/**
 * What a scenario is: an id, the metrics it reports (with the target
 * where it sets one), and run(), which measures one broker once.
 *
 * Owns the scenario contract and the run options; the scenarios themselves
 * live one per file beside it.
 */
import type { Broker } from "../brokers.js";

export interface MetricDef {
  key: string;
  label: string;
  unit: string;
  better: "higher" | "lower";
  /** warren/RabbitMQ must be ≥ ratio (higher is better) or ≤ ratio (lower is better) */
  targetRatio?: number;
}

export interface BenchOptions {
  /** seconds per throughput measurement (after warmup) */
  duration: number;
  warmup: number;
  smoke: boolean;
  s7Connections: number[];
  s8Messages: number;
  /** s8f: messages fanned out to its 10 queues */
  s8fMessages: number;
  s10Queues: number;
  /** seconds per overload-* run */
  overloadDuration: number;
  /** m1: simulated hosts, items per host, their interval, measured window (s) */
  m1Hosts: number;
  m1Items: number;
  m1IntervalMs: number;
  m1Duration: number;
  /** f1: no-op agents in the group, tasks per measurement */
  f1Hosts: number;
  f1Runs: number;
  log: (msg: string) => void;
}

export interface Scenario {
  id: string;
  title: string;
  metrics(o: BenchOptions): MetricDef[];
  /** one measurement against one broker; returns metric key → value (missing = n/a) */
  run(broker: Broker, o: BenchOptions): Promise<Record<string, number | null>>;
}
