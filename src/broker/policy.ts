/**
 * Policies as RabbitMQ applies them: for each queue or exchange, the matching
 * policy of highest priority in its vhost (pattern is a regex on the name,
 * `apply-to` all | queues | exchanges | classic_queues | quorum_queues) supplies
 * settings that the object's own x-arguments did not. For the numeric limits
 * (message-ttl, expires, max-length, max-length-bytes, delivery-limit) the
 * smaller of argument and policy wins; for the others the argument wins.
 * Applied at declare time and again whenever a policy is set or cleared.
 *
 * Operator policies (runtime parameters of component operator_policy) cap what users' policies
 * and arguments may set: a queue gets at most one of each kind, and for every key the operator
 * policy sets, the effective value is the smaller of the two (rabbit_policy:merge_policy_value
 * for the numeric keys, the only ones an operator policy accepts).
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

/** What a queue or exchange gets: its policy's name, its operator policy's, and the merged definition. */
export interface AppliedPolicy {
  name?: string | undefined;
  operatorPolicy?: string | undefined;
  definition: Record<string, unknown>;
}

export const OPERATOR_POLICY_COMPONENT = "operator_policy";

/** The keys RabbitMQ 3.10 accepts in an operator policy (all numeric, all capped by min). */
export const OPERATOR_POLICY_KEYS = new Set(["expires", "message-ttl", "max-length", "max-length-bytes", "max-in-memory-length", "max-in-memory-bytes", "delivery-limit"]);

/** rabbit_policies' validators for operator policy keys: smallest allowed value and what the error calls it. */
const OPERATOR_VALIDATORS: Record<string, [number, string]> = {
  expires: [1, "queue expiry"],
  "message-ttl": [0, "message TTL"],
  "max-length": [0, "maximum length"],
  "max-length-bytes": [0, "maximum length in bytes"],
  "max-in-memory-length": [0, "maximum memory in bytes"],
  "max-in-memory-bytes": [0, "maximum memory in bytes"],
  "delivery-limit": [0, "delivery limit"],
};

/** A value as RabbitMQ prints it in validation errors (Erlang terms: binaries as <<"...">>). */
function erlangTerm(v: unknown): string {
  return typeof v === "string" ? `<<"${v}">>` : JSON.stringify(v);
}

type PolicyCheck = (v: unknown) => boolean;
const isInt =
  (min: number, max = Number.MAX_SAFE_INTEGER): PolicyCheck =>
  (v) =>
    typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
const isString: PolicyCheck = (v) => typeof v === "string";
const isOneOf =
  (...allowed: unknown[]): PolicyCheck =>
  (v) =>
    allowed.includes(v);

/**
 * The keys a (user) policy may set in RabbitMQ 3.10.8 with the management plugin (rabbit_policies,
 * rabbit_queue_location_validator, rabbit_mirror_queue_misc), each with its validator and the
 * words of its error ("~p is not a valid delivery limit"). There is no key for the queue type:
 * a queue's type is fixed when it is declared, and no policy makes a classic queue a quorum queue.
 */
const POLICY_VALIDATORS: Record<string, [PolicyCheck, string]> = {
  "alternate-exchange": [isString, "is not a valid alternate exchange name"],
  "dead-letter-exchange": [isString, "is not a valid dead letter exchange name"],
  "dead-letter-routing-key": [isString, "is not a valid dead letter routing key"],
  "dead-letter-strategy": [isOneOf("at-most-once", "at-least-once"), "is not a valid dead letter strategy"],
  "message-ttl": [isInt(0), "is not a valid message TTL"],
  expires: [isInt(1), "is not a valid queue expiry"],
  "max-length": [isInt(0), "is not a valid maximum length"],
  "max-length-bytes": [isInt(0), "is not a valid maximum length in bytes"],
  "max-in-memory-length": [isInt(0), "is not a valid maximum memory in bytes"],
  "max-in-memory-bytes": [isInt(0), "is not a valid maximum memory in bytes"],
  "queue-mode": [isOneOf("default", "lazy"), "is not a valid queue-mode value"],
  "queue-version": [isOneOf(1, 2), "is not a valid queue-version value"],
  overflow: [isOneOf("drop-head", "reject-publish", "reject-publish-dlx"), "is not a valid overflow value"],
  "delivery-limit": [isInt(0), "is not a valid delivery limit"],
  "max-age": [(v) => typeof v === "string" && /^[0-9]+[YMDhms]$/.test(v) && Number.parseInt(v, 10) > 0, "is not a valid max age"],
  "stream-max-segment-size-bytes": [isInt(0, 3_000_000_000), "is not a valid segment size"],
  "queue-leader-locator": [isOneOf("client-local", "balanced", "random", "least-leaders"), "is not a valid queue leader locator value"],
  "initial-cluster-size": [isInt(0), "is not a valid cluster size"],
  "queue-master-locator": [isOneOf("min-masters", "client-local", "random"), "invalid queue-master-locator value"],
};
/** classic mirrored queues' keys (rabbit_mirror_queue_misc): recognised, not applied by warren */
const HA_KEYS = new Set(["ha-mode", "ha-params", "ha-sync-mode", "ha-sync-batch-size", "ha-promote-on-shutdown", "ha-promote-on-failure"]);

/**
 * Why a policy definition is refused, in RabbitMQ 3.10's words (rabbit_policy:validation; the
 * management API wraps it in "Validation failed"), or undefined when it is acceptable: known keys
 * are validated first, then any key no validator knows is reported ("[{<<"queue-type">>,<<"quorum">>}]
 * are not recognised policy settings").
 */
export function policyError(def: Record<string, unknown>): string | undefined {
  const keys = Object.keys(def).sort();
  if (keys.length === 0) return "no policy provided";
  for (const k of keys) {
    const rule = POLICY_VALIDATORS[k];
    if (rule && !rule[0](def[k])) return `${erlangTerm(def[k])} ${rule[1]}`;
  }
  if (keys.some((k) => HA_KEYS.has(k)) && def["ha-mode"] === undefined) return "ha-mode must be specified to specify ha-params, ha-sync-mode or ha-promote-on-shutdown";
  const unknown = keys.filter((k) => POLICY_VALIDATORS[k] === undefined && !HA_KEYS.has(k));
  if (unknown.length > 0) return `[${unknown.map((k) => `{<<"${k}">>,${erlangTerm(def[k])}}`).join(",")}] are not recognised policy settings`;
  return undefined;
}

/**
 * Why an operator policy definition is refused, in RabbitMQ 3.10's words (the management API
 * wraps it in "Validation failed"), or undefined when it is acceptable.
 */
export function operatorPolicyError(def: Record<string, unknown>): string | undefined {
  const keys = Object.keys(def);
  if (keys.length === 0) return "no policy provided";
  const unknown = keys.filter((k) => !OPERATOR_POLICY_KEYS.has(k));
  if (unknown.length > 0) return `[${unknown.map((k) => `{<<"${k}">>,${erlangTerm(def[k])}}`).join(",")}] are not recognised policy settings`;
  for (const k of keys) {
    const [min, what] = OPERATOR_VALIDATORS[k]!;
    const v = def[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < min) return `${erlangTerm(v)} is not a valid ${what}`;
  }
  return undefined;
}

/** The operator policy for a queue, from the runtime parameters (their values hold pattern, apply-to, definition, priority). */
export function matchOperatorPolicy(parameters: Iterable<Record<string, unknown>>, vhost: string, name: string, queueType = "classic"): PolicyValue | undefined {
  const candidates: Record<string, unknown>[] = [];
  for (const p of parameters) {
    if (p["component"] !== OPERATOR_POLICY_COMPONENT || p["vhost"] !== vhost) continue;
    candidates.push({ ...(p["value"] as Record<string, unknown>), vhost, name: p["name"] });
  }
  return candidates.length === 0 ? undefined : matchPolicy(candidates, vhost, "queue", name, queueType);
}

/** A queue's policy capped by its operator policy (either may be absent). */
export function withOperatorPolicy(user: PolicyValue | undefined, op: PolicyValue | undefined): AppliedPolicy | undefined {
  if (op === undefined) return user;
  const definition: Record<string, unknown> = { ...(user?.definition ?? {}) };
  for (const [k, v] of Object.entries(op.definition)) {
    const cur = definition[k];
    definition[k] = typeof cur === "number" && typeof v === "number" ? Math.min(cur, v) : v;
  }
  return { name: user?.name, operatorPolicy: op.name, definition };
}

/**
 * Policy keys each queue type lists as unsupported (capabilities() unsupported_policies in RabbitMQ
 * 3.10.8): a policy that sets any of them does not apply to a queue of that type at all
 * (rabbit_queue_type:is_policy_applicable), and the next matching policy may; e.g. a delivery-limit
 * policy never applies to a classic queue, not even its max-length.
 */
const UNSUPPORTED_POLICY_KEYS: Record<string, ReadonlySet<string>> = {
  classic: new Set(["max-age", "stream-max-segment-size-bytes", "queue-leader-locator", "initial-cluster-size", "delivery-limit", "dead-letter-strategy"]),
  quorum: new Set([
    "max-priority",
    "queue-mode",
    "single-active-consumer",
    "ha-mode",
    "ha-params",
    "ha-sync-mode",
    "ha-promote-on-shutdown",
    "ha-promote-on-failure",
    "queue-master-locator",
    "max-age",
    "stream-max-segment-size-bytes",
    "initial-cluster-size",
  ]),
};

function applicableTo(queueType: string, definition: unknown): boolean {
  const unsupported = UNSUPPORTED_POLICY_KEYS[queueType];
  if (unsupported === undefined || definition === null || typeof definition !== "object") return true;
  return !Object.keys(definition).some((k) => unsupported.has(k));
}

export function matchPolicy(policies: Iterable<Record<string, unknown>>, vhost: string, kind: "queue" | "exchange", name: string, queueType = "classic"): PolicyValue | undefined {
  let best: PolicyValue | undefined;
  for (const raw of policies) {
    const p = raw as unknown as PolicyValue;
    if (p.vhost !== vhost || typeof p.pattern !== "string") continue;
    if (kind === "queue" && !applicableTo(queueType, p.definition)) continue;
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
  const quorum = own.queueType === "quorum";
  for (const [key, field] of MIN_WINS) {
    const v = def[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) continue;
    const cur = out[field] as number | undefined;
    // rabbit_quorum_queue: a policy's expires replaces the argument (policy_has_precedence)
    (out as unknown as Record<string, unknown>)[field] = cur === undefined || (quorum && key === "expires") ? v : Math.min(cur, v);
  }
  if (out.deadLetterExchange === undefined && typeof def["dead-letter-exchange"] === "string") out.deadLetterExchange = def["dead-letter-exchange"];
  if (out.deadLetterRoutingKey === undefined && typeof def["dead-letter-routing-key"] === "string") out.deadLetterRoutingKey = def["dead-letter-routing-key"];
  // delivery-limit is a quorum-queue policy (classic queues list it as unsupported): the smaller
  // of policy and argument, the policy alone when the argument is not a number (rabbit_quorum_queue)
  const dl = def["delivery-limit"];
  if (own.queueType === "quorum" && typeof dl === "number" && Number.isInteger(dl) && dl >= 0) {
    out.deliveryLimit = out.deliveryLimit === undefined ? dl : Math.min(out.deliveryLimit, dl);
  }
  const ov = def["overflow"];
  // the argument wins for a classic queue, the policy for a quorum queue (policy_has_precedence),
  // which takes reject-publish-dlx as drop-head (rabbit_quorum_queue:overflow)
  if ((args["x-overflow"] === undefined || quorum) && (ov === "drop-head" || ov === "reject-publish" || ov === "reject-publish-dlx")) {
    out.overflow = ov === "reject-publish-dlx" && quorum ? "drop-head" : ov;
  }
  return out;
}
