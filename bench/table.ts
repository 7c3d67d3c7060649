/**
 * Summaries and the results table: median and min–max per metric per broker,
 * the ratio warren/RabbitMQ, the target and whether it is met —
 * rendered as aligned text for the terminal and as a markdown table.
 *
 * Owns formatting only; figures come from run.ts untouched.
 */
import type { BrokerName } from "./brokers.js";
import type { MetricDef } from "./scenarios/types.js";

export interface Row {
  scenario: string;
  metric: MetricDef;
  values: Record<BrokerName, number[]>;
  /** why a broker has no values (error text), if it failed */
  errors: Partial<Record<BrokerName, string>>;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  const a = Math.abs(n);
  if (a >= 1000) return Math.round(n).toLocaleString("en");
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  if (a >= 1) return n.toFixed(2);
  return n.toPrecision(2);
}

function cell(xs: number[], err: string | undefined): string {
  if (xs.length === 0) return err ? "failed" : "n/a";
  if (xs.length === 1) return fmt(xs[0]!);
  return `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`;
}

function targetText(m: MetricDef): string {
  if (m.targetRatio === undefined) return "";
  return m.better === "higher" ? `≥ ${m.targetRatio}×` : `≤ ${m.targetRatio}×`;
}

export interface Summary {
  cells: string[];
}

export const HEADER = ["scenario", "metric", "warren median (min–max)", "RabbitMQ median (min–max)", "warren/RabbitMQ", "target", "met?"];

export function summarize(r: Row): string[] {
  const w = r.values.warren;
  const q = r.values.rabbitmq;
  // a non-positive RabbitMQ figure (an RSS delta swamped by noise) makes the ratio meaningless
  const ratio = w.length && q.length && median(q) > 0 ? median(w) / median(q) : NaN;
  let met = "";
  if (r.metric.targetRatio !== undefined && Number.isFinite(ratio)) {
    met = (r.metric.better === "higher" ? ratio >= r.metric.targetRatio : ratio <= r.metric.targetRatio) ? "yes" : "NO";
  }
  return [r.scenario, `${r.metric.label}`, cell(w, r.errors.warren), cell(q, r.errors.rabbitmq), Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : "", targetText(r.metric), met];
}

export function textTable(rows: Row[]): string {
  const cells = [HEADER, ...rows.map(summarize)];
  const widths = HEADER.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  return cells
    .map((c, ri) => {
      const line = c
        .map((x, i) => x.padEnd(widths[i]!))
        .join("  ")
        .trimEnd();
      return ri === 0 ? `${line}\n${widths.map((w) => "-".repeat(w)).join("  ")}` : line;
    })
    .join("\n");
}

export function markdownTable(rows: Row[]): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  return [`| ${HEADER.join(" | ")} |`, `|${HEADER.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${summarize(r).map(esc).join(" | ")} |`)].join("\n");
}
