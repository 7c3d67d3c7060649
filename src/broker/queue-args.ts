/**
 * Parse and validate queue x-arguments the way RabbitMQ does at queue.declare:
 * a wrong type or value is PRECONDITION_FAILED with RabbitMQ's reply text
 * ("invalid arg 'x-message-ttl' for queue 'q' in vhost '/': {unacceptable_type,longstr}").
 */
import type { FieldTable, FieldValue } from "../amqp/field-table.js";
import { preconditionFailed } from "../amqp/errors.js";
import { asNumber, isIntegerValue, typeName } from "./args.js";
import type { QueueSettings } from "./queue.js";

type Check = "nonNegInt" | "posInt" | "string" | "bool" | "priority" | "overflow" | "queueType";

const KNOWN: Record<string, Check> = {
  "x-message-ttl": "nonNegInt",
  "x-expires": "posInt",
  "x-max-length": "nonNegInt",
  "x-max-length-bytes": "nonNegInt",
  "x-overflow": "overflow",
  "x-dead-letter-exchange": "string",
  "x-dead-letter-routing-key": "string",
  "x-max-priority": "priority",
  "x-single-active-consumer": "bool",
  "x-queue-type": "queueType",
  "x-delivery-limit": "nonNegInt",
  "x-queue-mode": "string",
  "x-queue-version": "nonNegInt",
};

function invalid(arg: string, queue: string, vhost: string, detail: string): never {
  throw preconditionFailed(`invalid arg '${arg}' for queue '${queue}' in vhost '${vhost}': ${detail}`);
}

function check(kind: Check, arg: string, v: FieldValue, queue: string, vhost: string): void {
  switch (kind) {
    case "nonNegInt":
    case "posInt":
    case "priority": {
      if (!isIntegerValue(v)) invalid(arg, queue, vhost, `"expected integer, got ${typeName(v)}"`);
      const n = asNumber(v)!;
      if (n < 0) invalid(arg, queue, vhost, `{value_negative,${n}}`);
      if (kind === "posInt" && n === 0) invalid(arg, queue, vhost, `{value_zero,${n}}`);
      if (kind === "priority" && n > 255) invalid(arg, queue, vhost, `{max_value_exceeded,${n}}`);
      return;
    }
    case "string":
      if (typeof v !== "string") invalid(arg, queue, vhost, `{unacceptable_type,${typeName(v)}}`);
      return;
    case "bool":
      if (typeof v !== "boolean") invalid(arg, queue, vhost, `{unacceptable_type,${typeName(v)}}`);
      return;
    case "overflow":
      if (typeof v !== "string") invalid(arg, queue, vhost, `{unacceptable_type,${typeName(v)}}`);
      if (!["drop-head", "reject-publish", "reject-publish-dlx"].includes(v)) invalid(arg, queue, vhost, "invalid_overflow");
      return;
    case "queueType":
      if (typeof v !== "string") invalid(arg, queue, vhost, `{unacceptable_type,${typeName(v)}}`);
      if (!["classic", "quorum", "stream"].includes(v)) invalid(arg, queue, vhost, `{unsupported_queue_type,<<"${v}">>}`);
      return;
  }
}

/**
 * Arguments RabbitMQ 3.10 knows for some queue type but refuses on this one (rabbit_queue_type:
 * check_invalid_arguments): "invalid arg 'x-delivery-limit' for queue 'q' in vhost '/' of queue
 * type rabbit_classic_queue". Unknown x-arguments stay accepted. (Streams: not checked.)
 */
const INVALID_FOR_TYPE: Record<string, { module: string; args: ReadonlySet<string> }> = {
  classic: {
    module: "rabbit_classic_queue",
    args: new Set(["x-delivery-limit", "x-max-in-memory-length", "x-max-in-memory-bytes", "x-quorum-initial-group-size",
      "x-dead-letter-strategy", "x-max-age", "x-stream-max-segment-size-bytes", "x-initial-cluster-size", "x-queue-leader-locator"]),
  },
  quorum: {
    module: "rabbit_quorum_queue",
    args: new Set(["x-max-priority", "x-queue-mode", "x-queue-version", "x-queue-master-locator", "x-max-age",
      "x-stream-max-segment-size-bytes", "x-initial-cluster-size"]),
  },
};

/**
 * `typeArgs`: apply INVALID_FOR_TYPE (client and management declares); boot replay and
 * definitions import skip it, so a queue an older warren accepted is never dropped.
 */
export function parseQueueArgs(args: FieldTable, queue: string, vhost: string, typeArgs = true): QueueSettings {
  for (const [k, v] of Object.entries(args)) {
    const kind = KNOWN[k];
    if (kind) check(kind, k, v, queue, vhost);
  }
  const typeRule = INVALID_FOR_TYPE[typeof args["x-queue-type"] === "string" ? args["x-queue-type"] : "classic"];
  if (typeRule && typeArgs) {
    for (const k of Object.keys(args)) {
      if (typeRule.args.has(k)) throw preconditionFailed(`invalid arg '${k}' for queue '${queue}' in vhost '${vhost}' of queue type ${typeRule.module}`);
    }
  }
  if (args["x-dead-letter-routing-key"] !== undefined && args["x-dead-letter-exchange"] === undefined) {
    invalid("x-dead-letter-routing-key", queue, vhost, "routing_key_but_no_dlx_defined");
  }
  const num = (k: string) => asNumber(args[k]);
  const str = (k: string) => (typeof args[k] === "string" ? (args[k] as string) : undefined);
  const maxPriority = num("x-max-priority");
  return {
    messageTtl: num("x-message-ttl"),
    expires: num("x-expires"),
    maxLength: num("x-max-length"),
    maxLengthBytes: num("x-max-length-bytes"),
    overflow: (str("x-overflow") as QueueSettings["overflow"]) ?? "drop-head",
    deadLetterExchange: str("x-dead-letter-exchange"),
    deadLetterRoutingKey: str("x-dead-letter-routing-key"),
    maxPriority: maxPriority === undefined ? undefined : Math.min(maxPriority, 255),
    singleActiveConsumer: args["x-single-active-consumer"] === true,
    queueType: str("x-queue-type") ?? "classic",
  };
}

/**
 * Arguments whose values must be equivalent on redeclare: the classic queue's arguments in
 * RabbitMQ 3.10 (x-queue-type is compared separately: missing means "the current type"),
 * plus x-delivery-limit, which a (hosted) quorum queue may carry.
 */
export const EQUIVALENCE_ARGS = [
  "x-expires", "x-message-ttl", "x-max-length", "x-max-length-bytes", "x-overflow",
  "x-dead-letter-exchange", "x-dead-letter-routing-key", "x-max-priority",
  "x-single-active-consumer", "x-queue-mode", "x-queue-version", "x-delivery-limit",
];
