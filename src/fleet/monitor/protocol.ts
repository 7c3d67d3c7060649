/**
 * Monitoring's messages and exchange names: the signed config (a host's
 * effective template) pushed into the agent's own queue, the metric batch an
 * agent publishes per tick, and the alert event the collector publishes.
 * Types and tiny helpers only.
 */
import type { EffectiveTemplate } from "./template.js";

/** topic exchange: one batch per host per tick, routing key metrics.<host> */
export const METRICS_EXCHANGE = "fleet.metrics";
/** the collector's durable queue on fleet.metrics (bound metrics.#), capped so a long outage cannot fill the broker */
export const METRICS_QUEUE = "fleet.metrics.collector";
export const METRICS_QUEUE_MAX = 2_000_000;
/** topic exchange: alert events, routing key alert.<state>.<severity> */
export const ALERTS_EXCHANGE = "fleet.alerts";

export const metricsKey = (host: string): string => `metrics.${host}`;
export const alertKey = (state: string, severity: string): string => `alert.${state}.${severity}`;

/** Signed by the operator key (the collector's); the agent keeps the newest by issuedAt. */
export interface ConfigPayload {
  v: 1;
  kind: "config";
  nonce: string;
  target: { host: string };
  issuedAt: number;
  exp: number;
  user: string;
  template: EffectiveTemplate;
}

/** One host tick. seq is per agent and strictly increasing (also across restarts). */
export interface MetricsBatch {
  v: 1;
  kind: "metrics";
  host: string;
  rev: string;
  t: number;
  seq: number;
  /** item key → value */
  s: Record<string, number>;
  /** item key → why it has no value (unsupported: non-numeric output, exit code, timeout, unreadable) */
  err?: Record<string, string>;
}

export type AlertState = "firing" | "resolved" | "flapping" | "nodata" | "stopped" | "acked";

export interface AlertEvent {
  id: number;
  /** the alert instance (rule, host): every event of one alert carries the same alert id */
  alert: string;
  state: AlertState;
  rule: string;
  host: string;
  item: string | null;
  value: number | null;
  threshold: string | null;
  severity: string;
  /** the sample's seq and timestamp that caused it (null for timer-driven events) */
  seq: number | null;
  t: number;
  since: number;
  at: number;
  silenced: boolean;
  inhibited: boolean;
  note: string | null;
}

/** Limits on what an agent may send (network input): */
export const MAX_BATCH_BYTES = 256 * 1024;
export const MAX_BATCH_ITEMS = 1000;

/** Parse and bound an agent's batch (network input); a string says why it is refused. */
export function parseBatch(body: Buffer): MetricsBatch | string {
  if (body.length > MAX_BATCH_BYTES) return `batch of ${body.length} bytes (limit ${MAX_BATCH_BYTES})`;
  let b: Partial<MetricsBatch>;
  try {
    b = JSON.parse(body.toString()) as Partial<MetricsBatch>;
  } catch {
    return "not JSON";
  }
  if (!b || typeof b !== "object" || b.kind !== "metrics" || typeof b.host !== "string") return "not a metrics batch";
  if (typeof b.seq !== "number" || !Number.isSafeInteger(b.seq) || typeof b.t !== "number" || !Number.isSafeInteger(b.t)) return "seq and t must be integers";
  if (!b.s || typeof b.s !== "object" || Array.isArray(b.s)) return "no samples object";
  if (Object.keys(b.s).length + Object.keys(b.err ?? {}).length > MAX_BATCH_ITEMS) return `more than ${MAX_BATCH_ITEMS} items`;
  if (b.err !== undefined && (typeof b.err !== "object" || b.err === null || Array.isArray(b.err))) return "err must be an object";
  return b as MetricsBatch;
}
