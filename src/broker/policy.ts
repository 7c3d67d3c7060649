/**
 * Policies as RabbitMQ applies them: for each queue or exchange, the matching
 * policy of highest priority in its vhost (pattern is a regex on the name,
 * `apply-to` all | queues | exchanges | classic_queues | quorum_queues) supplies
 * settings that the object's own x-arguments did not. For the numeric limits
 * (message-ttl, expires, max-length, max-length-bytes, delivery-limit) the
 * smaller of argument and policy wins; for the others the argument wins.
 * Applied at declare time and again whenever a policy is set or cleared.
 */
import { permits } from "./auth.js";
import type { FieldTable } from "../amqp/field-table.js";
import type { QueueSettings } from "./queue.js";

export interface PolicyValue {
  vhost: string;
  name: string;
  pattern: string;
  "apply-to": string;
  definition: Record<string, unknown>;
  priority: number;
}

export function matchPolicy(policies: Iterable<Record<string, unknown>>, vhost: string, kind: "queue" | "exchange", name: string, queueType = "classic"): PolicyValue | undefined {
  let best: PolicyValue | undefined;
  for (const raw of policies) {
    const p = raw as unknown as PolicyValue;
    if (p.vhost !== vhost || typeof p.pattern !== "string") continue;
    const to = p["apply-to"] ?? "all";
    const applies =
      to === "all" ||
      (kind === "exchange" && to === "exchanges") ||
      (kind === "queue" && (to === "queues" || (to === "classic_queues" && queueType === "classic") || (to === "quorum_queues" && queueType === "quorum")));
    if (!applies || !permits(p.pattern, name)) continue;
    if (!best || (Number(p.priority) || 0) > (Number(best.priority) || 0)) best = p;
  }
  return best;
}

const MIN_WINS: Array<[string, keyof QueueSettings]> = [
  ["message-ttl", "messageTtl"],
  ["expires", "expires"],
  ["max-length", "maxLength"],
  ["max-length-bytes", "maxLengthBytes"],
];

/** Effective settings: the queue's own (from x-arguments) completed by the policy definition. */
export function withPolicy(own: QueueSettings, args: FieldTable, def: Record<string, unknown> | undefined): QueueSettings {
  const out: QueueSettings = { ...own };
  if (!def) return out;
  for (const [key, field] of MIN_WINS) {
    const v = def[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) continue;
    const cur = out[field] as number | undefined;
    (out as unknown as Record<string, unknown>)[field] = cur === undefined ? v : Math.min(cur, v);
  }
  if (out.deadLetterExchange === undefined && typeof def["dead-letter-exchange"] === "string") out.deadLetterExchange = def["dead-letter-exchange"];
  if (out.deadLetterRoutingKey === undefined && typeof def["dead-letter-routing-key"] === "string") out.deadLetterRoutingKey = def["dead-letter-routing-key"];
  const ov = def["overflow"];
  if (args["x-overflow"] === undefined && (ov === "drop-head" || ov === "reject-publish" || ov === "reject-publish-dlx")) out.overflow = ov;
  return out;
}
