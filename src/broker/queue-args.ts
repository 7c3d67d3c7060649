/**
 * Parse and validate queue x-arguments the way RabbitMQ 3.10 does at queue.declare
 * (rabbit_amqqueue:check_declare_arguments): a wrong type or value is PRECONDITION_FAILED with
 * RabbitMQ's reply text ("invalid arg 'x-message-ttl' for queue 'q' in vhost '/':
 * {unacceptable_type,longstr}"). Each queue type knows its own arguments (the
 * `queue_arguments` of rabbit_classic_queue, rabbit_quorum_queue and rabbit_stream_queue's
 * capabilities): only those are validated for it, an argument another type knows is refused
 * ("... of queue type rabbit_quorum_queue"), unknown x-arguments are accepted, and the same
 * list is what a redeclare compares (rabbit_amqqueue:assert_args_equivalence).
 */
import type { FieldTable, FieldValue } from "../amqp/field-table.js";
import { preconditionFailed } from "../amqp/errors.js";
import { asNumber, isIntegerValue, typeName } from "./args.js";
import type { QueueSettings } from "./queue.js";

/** rabbit_misc:check_expiry: timers above this are refused */
const MAX_EXPIRY = 4294967295;

type Validator = (v: FieldValue, args: FieldTable) => string | undefined;

const intCheck = (v: FieldValue): string | undefined => (isIntegerValue(v) ? undefined : `"expected integer, got ${typeName(v)}"`);
const nonNegInt: Validator = (v) => intCheck(v) ?? (asNumber(v)! < 0 ? `{value_negative,${asNumber(v)}}` : undefined);
const expiry = (n: number): string | undefined => (n > MAX_EXPIRY ? `{value_too_large,${n}}` : n < 0 ? `{value_negative,${n}}` : undefined);
const posInt: Validator = (v, a) => nonNegInt(v, a) ?? (asNumber(v) === 0 ? "{value_zero,0}" : undefined);
const oneOf =
  (allowed: readonly string[], bad: (s: string) => string): Validator =>
  (v) =>
    typeof v !== "string" ? `{unacceptable_type,${typeName(v)}}` : allowed.includes(v) ? undefined : bad(v);

/** rabbit_amqqueue:declare_args(), in its order (the first failing one is reported) */
const VALIDATORS: ReadonlyArray<readonly [string, Validator]> = [
  ["x-expires", (v) => intCheck(v) ?? (asNumber(v) === 0 ? "{value_zero,0}" : expiry(asNumber(v)!))],
  ["x-message-ttl", (v) => intCheck(v) ?? expiry(asNumber(v)!)],
  ["x-dead-letter-exchange", (v) => (typeof v === "string" ? undefined : `{unacceptable_type,${typeName(v)}}`)],
  ["x-dead-letter-routing-key", (v, a) => (typeof v !== "string" ? `{unacceptable_type,${typeName(v)}}` : a["x-dead-letter-exchange"] === undefined ? "routing_key_but_no_dlx_defined" : undefined)],
  ["x-dead-letter-strategy", oneOf(["at-most-once", "at-least-once"], () => "invalid_dlx_strategy")],
  ["x-max-length", nonNegInt],
  ["x-max-length-bytes", nonNegInt],
  ["x-max-in-memory-length", nonNegInt],
  ["x-max-in-memory-bytes", nonNegInt],
  ["x-max-priority", (v, a) => nonNegInt(v, a) ?? (asNumber(v)! > 255 ? `{max_value_exceeded,${asNumber(v)}}` : undefined)],
  ["x-overflow", oneOf(["drop-head", "reject-publish", "reject-publish-dlx"], () => "invalid_overflow")],
  ["x-queue-mode", oneOf(["default", "lazy"], (s) => `"unsupported queue mode '${s}'"`)],
  ["x-queue-version", (v, a) => nonNegInt(v, a) ?? (asNumber(v) === 1 || asNumber(v) === 2 ? undefined : `"unsupported queue version '${asNumber(v)}'"`)],
  ["x-single-active-consumer", (v) => (typeof v === "boolean" ? undefined : `{unacceptable_type,${typeName(v)}}`)],
  ["x-queue-type", (v) => queueTypeError(v)],
  ["x-quorum-initial-group-size", posInt],
  ["x-max-age", (v) => (typeof v !== "string" ? `{unacceptable_type,${typeName(v)}}` : /^[0-9]+[YMDhms]$/.test(v) && Number.parseInt(v, 10) > 0 ? undefined : "invalid_max_age")],
  ["x-stream-max-segment-size-bytes", nonNegInt],
  ["x-initial-cluster-size", posInt],
  // 'random' and 'least-leaders' are 3.10's deprecated spellings of 'balanced'
  ["x-queue-leader-locator", oneOf(["client-local", "balanced", "random", "least-leaders"], () => "invalid_queue_locator_arg")],
];

function queueTypeError(v: FieldValue): string | undefined {
  if (typeof v !== "string") return `{unacceptable_type,${typeName(v)}}`;
  return QUEUE_TYPES[v] ? undefined : `"unsupported queue type '${v}'"`;
}

interface QueueType {
  /** RabbitMQ's module: named in "of queue type rabbit_quorum_queue" and in the server-named refusal */
  module: string;
  /** the arguments this type knows (capabilities() queue_arguments, in RabbitMQ 3.10.8's order) */
  args: readonly string[];
  /** may a client let the server name it? (capabilities() server_named) */
  serverNamed: boolean;
}

const QUEUE_TYPES: Record<string, QueueType> = {
  classic: {
    module: "rabbit_classic_queue",
    args: [
      "x-expires",
      "x-message-ttl",
      "x-dead-letter-exchange",
      "x-dead-letter-routing-key",
      "x-max-length",
      "x-max-length-bytes",
      "x-max-priority",
      "x-overflow",
      "x-queue-mode",
      "x-queue-version",
      "x-single-active-consumer",
      "x-queue-type",
      "x-queue-master-locator",
    ],
    serverNamed: true,
  },
  quorum: {
    module: "rabbit_quorum_queue",
    args: [
      "x-dead-letter-exchange",
      "x-dead-letter-routing-key",
      "x-dead-letter-strategy",
      "x-expires",
      "x-max-length",
      "x-max-length-bytes",
      "x-max-in-memory-length",
      "x-max-in-memory-bytes",
      "x-overflow",
      "x-single-active-consumer",
      "x-queue-type",
      "x-quorum-initial-group-size",
      "x-delivery-limit",
      "x-message-ttl",
      "x-queue-leader-locator",
    ],
    serverNamed: false,
  },
  stream: {
    module: "rabbit_stream_queue",
    args: ["x-max-length-bytes", "x-queue-type", "x-max-age", "x-stream-max-segment-size-bytes", "x-initial-cluster-size", "x-queue-leader-locator"],
    serverNamed: false,
  },
};

/** every argument some queue type knows (rabbit_queue_type:arguments(queue_arguments)) */
const ALL_TYPE_ARGS = new Set(Object.values(QUEUE_TYPES).flatMap((t) => t.args));

/** The declared type ("classic" when absent or not a known type: validation reports the latter). */
export function declaredQueueType(args: FieldTable): string {
  const t = args["x-queue-type"];
  return typeof t === "string" && QUEUE_TYPES[t] ? t : "classic";
}

/**
 * rabbit_channel's queue.declare with an empty name: types that cannot be server-named are
 * refused before anything else ("Cannot declare a server-named queue for type rabbit_quorum_queue").
 */
export function checkServerNamed(args: FieldTable): void {
  const t = QUEUE_TYPES[declaredQueueType(args)]!;
  if (!t.serverNamed) throw preconditionFailed(`Cannot declare a server-named queue for type ${t.module}`);
}

/**
 * The flags a replicated type refuses (rabbit_queue_type_util: check_auto_delete, check_exclusive,
 * check_non_durable, in that order), checked after the arguments.
 */
function checkTypeFlags(type: string, durable: boolean, exclusive: boolean, autoDelete: boolean, queue: string, vhost: string): void {
  if (type === "classic") return;
  const refuse = (what: string) => preconditionFailed(`invalid property '${what}' for queue '${queue}' in vhost '${vhost}'`);
  if (autoDelete) throw refuse("auto-delete");
  if (exclusive) throw refuse("exclusive-owner");
  if (!durable) throw refuse("non-durable");
}

/**
 * The arguments a redeclare of a queue of this type compares (rabbit_amqqueue:assert_args_equivalence
 * uses the type's queue_arguments; a classic queue's missing x-queue-type equals 'classic').
 */
export function equivalenceArgs(queueType: string): readonly string[] {
  return (QUEUE_TYPES[queueType] ?? QUEUE_TYPES["classic"]!).args;
}

/**
 * `checks`: validate as a client declare does (AMQP and management API): argument types and
 * values, arguments of another queue type, and the flags the type refuses. Boot replay and
 * definitions import skip them, so a queue an older warren accepted is never dropped.
 */
export function parseQueueArgs(
  args: FieldTable,
  queue: string,
  vhost: string,
  checks = true,
  flags: { durable: boolean; exclusive: boolean; autoDelete: boolean } = { durable: true, exclusive: false, autoDelete: false },
): QueueSettings {
  const type = declaredQueueType(args);
  if (checks) {
    const fail = (arg: string, detail: string): never => {
      throw preconditionFailed(`invalid arg '${arg}' for queue '${queue}' in vhost '${vhost}': ${detail}`);
    };
    const qt = args["x-queue-type"];
    if (qt !== undefined) {
      const err = queueTypeError(qt);
      if (err) fail("x-queue-type", err);
    }
    const known = QUEUE_TYPES[type]!;
    for (const [k, check] of VALIDATORS) {
      const v = args[k];
      if (v === undefined || !known.args.includes(k)) continue;
      const err = check(v, args);
      if (err) fail(k, err);
    }
    for (const k of Object.keys(args)) {
      if (ALL_TYPE_ARGS.has(k) && !known.args.includes(k)) {
        throw preconditionFailed(`invalid arg '${k}' for queue '${queue}' in vhost '${vhost}' of queue type ${known.module}`);
      }
    }
    checkTypeFlags(type, flags.durable, flags.exclusive, flags.autoDelete, queue, vhost);
  }
  const num = (k: string) => asNumber(args[k]);
  const str = (k: string) => (typeof args[k] === "string" ? (args[k] as string) : undefined);
  const maxPriority = num("x-max-priority");
  let overflow = str("x-overflow");
  // rabbit_quorum_queue:overflow: reject-publish-dlx is accepted but "invalid for quorum queue": drop-head
  if (type === "quorum" && overflow === "reject-publish-dlx") overflow = "drop-head";
  return {
    messageTtl: num("x-message-ttl"),
    expires: num("x-expires"),
    maxLength: num("x-max-length"),
    maxLengthBytes: num("x-max-length-bytes"),
    overflow: overflow === "reject-publish" || overflow === "reject-publish-dlx" ? overflow : "drop-head",
    deadLetterExchange: str("x-dead-letter-exchange"),
    deadLetterRoutingKey: str("x-dead-letter-routing-key"),
    maxPriority: maxPriority === undefined ? undefined : Math.min(Math.max(maxPriority, 0), 255),
    singleActiveConsumer: args["x-single-active-consumer"] === true,
    queueType: type,
    // RabbitMQ 3.10 does not validate x-delivery-limit: a non-number never limits (Erlang
    // orders every number below a binary), a negative one drops at the first return
    deliveryLimit: type === "quorum" ? num("x-delivery-limit") : undefined,
  };
}
