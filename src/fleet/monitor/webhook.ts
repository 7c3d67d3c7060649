/**
 * Alert events as Alertmanager's webhook receiver JSON (version "4"), so
 * receivers written for Alertmanager work unchanged: one POST per group (a
 * rule's events that were due together), `status` firing if any alert in it
 * still fires, each alert with labels, annotations, startsAt/endsAt and a
 * fingerprint. warren adds `event_id` (the idempotency key for retries) to
 * each alert's annotations and the ids to the top level.
 */
import { createHash } from "node:crypto";
import type { AlertEvent } from "./protocol.js";
import type { WebhookRow } from "./store.js";

const ZERO_TIME = "0001-01-01T00:00:00Z";
const iso = (t: number): string => new Date(t).toISOString();

export function alertmanagerPayload(events: AlertEvent[], hook: Pick<WebhookRow, "id">): Record<string, unknown> {
  const alerts = events.map((e) => {
    const resolved = e.state === "resolved";
    const labels: Record<string, string> = { alertname: e.rule, host: e.host, severity: e.severity, ...(e.item ? { item: e.item } : {}) };
    return {
      status: resolved ? "resolved" : "firing",
      labels,
      annotations: {
        summary: `${e.rule} ${e.state} on ${e.host}${e.item ? ` (${e.item} ${e.value ?? ""} ${e.threshold ?? ""})` : ""}`.trim(),
        state: e.state,
        event_id: String(e.id),
        ...(e.value !== null ? { value: String(e.value) } : {}),
        ...(e.threshold ? { threshold: e.threshold } : {}),
        ...(e.note ? { note: e.note } : {}),
      },
      startsAt: iso(e.since),
      endsAt: resolved ? iso(e.t) : ZERO_TIME,
      generatorURL: "",
      fingerprint: createHash("sha256").update(e.alert).digest("hex").slice(0, 16),
    };
  });
  const rule = events[0]?.rule ?? "";
  const common = (k: string): Record<string, string> => {
    const first = alerts[0]?.labels[k];
    return first !== undefined && alerts.every((a) => a.labels[k] === first) ? { [k]: first } : {};
  };
  return {
    version: "4",
    groupKey: `{}:{alertname="${rule}"}`,
    truncatedAlerts: 0,
    status: alerts.some((a) => a.status === "firing") ? "firing" : "resolved",
    receiver: `warren-webhook-${hook.id}`,
    groupLabels: { alertname: rule },
    commonLabels: { alertname: rule, ...common("severity"), ...common("host"), ...common("item") },
    commonAnnotations: {},
    externalURL: "",
    alerts,
    eventIds: events.map((e) => e.id),
  };
}
