/**
 * Topology commands: one value per definition change (vhosts, users, permissions,
 * policies, runtime parameters, exchanges, queues, bindings).
 *
 * A command is plain data: no object references, JSON-serialisable, so the same value
 * is what the AMQP handlers, the management API, definitions import and boot replay
 * hand to `Broker.apply`, what the definitions log stores, and what another node can
 * receive and apply. Whatever is local to this node (the connection that owns an
 * exclusive queue, whether the client asked for a server-named queue) travels beside
 * the command in an `ApplyContext`, never inside it.
 *
 * Field tables (the arguments of declares and bindings) are serialised as their AMQP
 * encoding, base64 (`{"$amqp": "..."}`): JSON has no int8 or int64, and a table must come
 * back exactly as the client sent it (equivalence checks compare tags).
 *
 * Versioning: a serialised command carries `v` (COMMAND_FORMAT). Lines written before
 * the field existed have none and are format 1; `decodeCommand` refuses a newer format
 * with a clear error instead of misreading it, and is where an old format is upgraded
 * when the shapes below change.
 *
 * Owns: the union, its typed constructor (`command`), the decoder that validates
 * untrusted JSON (a log line, a peer's message). Does not own: what applying means
 * (Broker.apply, VHost), where commands are stored (src/store/definitions-log.ts).
 */
import { Decimal, decodeTable, encodeTable, LongString, TypedValue, type FieldTable, type FieldValue } from "../amqp/field-table.js";
import type { HashAlgorithm } from "./auth.js";
import { OPERATOR_POLICY_COMPONENT } from "./policy.js";
import { VHOST_LIMITS_COMPONENT } from "./limits.js";

/** The shape version of serialised commands (bump it, and upgrade in decodeCommand, when a shape changes). */
export const COMMAND_FORMAT = 1;

/** Runtime-parameter components that warren interprets (others are stored and exported as given). */
export { OPERATOR_POLICY_COMPONENT, VHOST_LIMITS_COMPONENT as LIMITS_COMPONENT };

export type JsonObject = Record<string, unknown>;

export type TopologyCommand =
  | { op: "vhost.add"; name: string; description: string; tags: string[] }
  /** metadata of an existing vhost (management API PUT on a vhost that exists) */
  | { op: "vhost.update"; name: string; description: string; tags: string[] }
  | { op: "vhost.delete"; name: string }
  /** create or replace a user (password hash, tags, user limits) */
  | { op: "user.add"; name: string; passwordHash: string; hashingAlgorithm: HashAlgorithm; tags: string[]; exportHash?: string; limits?: Record<string, number> }
  | { op: "user.delete"; name: string }
  | { op: "permission.set"; user: string; vhost: string; configure: string; write: string; read: string }
  | { op: "permission.clear"; user: string; vhost: string }
  | { op: "topic-permission.set"; user: string; vhost: string; exchange: string; write: string; read: string }
  /** without `exchange`: every topic permission of the user in the vhost */
  | { op: "topic-permission.clear"; user: string; vhost: string; exchange?: string }
  | { op: "exchange.declare"; vhost: string; name: string; type: string; durable: boolean; autoDelete: boolean; internal: boolean; arguments: FieldTable }
  | { op: "exchange.delete"; vhost: string; name: string; ifUnused?: boolean }
  | { op: "queue.declare"; vhost: string; name: string; durable: boolean; exclusive?: boolean; autoDelete: boolean; arguments: FieldTable }
  | { op: "queue.delete"; vhost: string; name: string; ifUnused?: boolean; ifEmpty?: boolean }
  | { op: "bind"; vhost: string; source: string; destination: string; destinationType: "queue" | "exchange"; routingKey: string; arguments: FieldTable }
  | { op: "unbind"; vhost: string; source: string; destination: string; destinationType: "queue" | "exchange"; routingKey: string; arguments: FieldTable }
  /** `value` is the management API's JSON object, kept as is so definitions move between RabbitMQ and warren unchanged */
  | { op: "policy.set"; vhost: string; name: string; value: JsonObject }
  | { op: "policy.clear"; vhost: string; name: string }
  /** vhost-scoped runtime parameter; operator policies and vhost limits are parameters of their components */
  | { op: "parameter.set"; component: string; vhost: string; name: string; value: JsonObject }
  | { op: "parameter.clear"; component: string; vhost: string; name: string }
  | { op: "global-parameter.set"; name: string; value: JsonObject }
  | { op: "global-parameter.clear"; name: string };

export type CommandOp = TopologyCommand["op"];
export type CommandOf<O extends CommandOp> = Extract<TopologyCommand, { op: O }>;
/** A command's fields without its op (what `command` takes). */
export type CommandFields<O extends CommandOp> = Omit<CommandOf<O>, "op">;

/** The typed constructor: `command("queue.declare", {...})` — a misspelt op or field does not compile. */
export function command<O extends CommandOp>(op: O, fields: CommandFields<O>): CommandOf<O> {
  return { op, ...fields } as CommandOf<O>;
}

/** An operator policy is stored as a runtime parameter of its component (as RabbitMQ does). */
export function operatorPolicySet(vhost: string, name: string, value: JsonObject): CommandOf<"parameter.set"> {
  return command("parameter.set", { component: OPERATOR_POLICY_COMPONENT, vhost, name, value: { value, vhost, component: OPERATOR_POLICY_COMPONENT, name } });
}

export function operatorPolicyClear(vhost: string, name: string): CommandOf<"parameter.clear"> {
  return command("parameter.clear", { component: OPERATOR_POLICY_COMPONENT, vhost, name });
}

/** Vhost limits (max-connections, max-queues) are the runtime parameter vhost-limits/<vhost>/limits. */
export function vhostLimitsSet(vhost: string, limits: Record<string, number>): CommandOf<"parameter.set"> {
  return command("parameter.set", { component: VHOST_LIMITS_COMPONENT, vhost, name: "limits", value: { value: limits, vhost, component: VHOST_LIMITS_COMPONENT, name: "limits" } });
}

export function vhostLimitsClear(vhost: string): CommandOf<"parameter.clear"> {
  return command("parameter.clear", { component: VHOST_LIMITS_COMPONENT, vhost, name: "limits" });
}

/**
 * Who asks, as far as it changes the rules (not serialised):
 * - "amqp": a client's method; `owner` is its connection (exclusive queues), 'amq.*' queue
 *   names are refused even when the queue exists (rabbit_channel:check_name) unless `serverNamed`;
 * - "http": the management API; 'amq.*' is refused for new queues only;
 * - "import": definitions import; "replay": the definitions log at boot — both accept what an
 *   earlier run or RabbitMQ accepted (amq.gen-… queues, another queue type's arguments) so
 *   nothing is dropped, and replay appends nothing to the log.
 * - "peer": a command another node applied first (the cluster), checked as import is.
 */
export interface ApplyContext {
  origin: "amqp" | "http" | "import" | "replay" | "peer";
  /** the connection (or other object) owning an exclusive queue; null for none */
  owner?: object | null;
  /** queue.declare: the name was generated for a client that sent "" */
  serverNamed?: boolean;
}

export const REPLAY: ApplyContext = { origin: "replay" };

// ---- serialisation ----------------------------------------------------------

/** The JSON value a command is stored and sent as. */
export function encodeCommand(c: TopologyCommand): JsonObject {
  if (!("arguments" in c) || Object.keys(c.arguments).length === 0) return { v: COMMAND_FORMAT, ...c };
  return { v: COMMAND_FORMAT, ...c, arguments: { $amqp: encodeTable(c.arguments).toString("base64") } };
}

function decodeFieldTable(v: unknown): FieldTable | null {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return null;
  const o = v as JsonObject;
  if (typeof o["$amqp"] !== "string") return legacyTable(o);
  try {
    const buf = Buffer.from(o["$amqp"], "base64");
    const { table, end } = decodeTable(buf, 0);
    return end === buf.length ? table : null;
  } catch {
    return null;
  }
}

/**
 * Format-1 logs written before tables were stored encoded hold JSON.stringify's view of a
 * FieldTable: TypedValue as {type, value}, Buffer as {type: "Buffer", data}, Decimal as
 * {scale, value}, LongString as {bytes}. Turn those back into field values.
 */
function legacyTable(o: JsonObject): FieldTable {
  const out: FieldTable = {};
  for (const [k, v] of Object.entries(o)) out[k] = legacyValue(v);
  return out;
}

function legacyValue(v: unknown): FieldValue {
  if (Array.isArray(v)) return v.map(legacyValue);
  if (v === null || typeof v !== "object") return v as FieldValue;
  const o = v as JsonObject;
  const keys = Object.keys(o).sort().join(",");
  if (keys === "type,value" && typeof o["type"] === "string" && typeof o["value"] === "number") return new TypedValue(o["type"], o["value"]);
  if (keys === "data,type" && o["type"] === "Buffer" && Array.isArray(o["data"])) return Buffer.from(o["data"] as number[]);
  if (keys === "scale,value" && typeof o["scale"] === "number" && typeof o["value"] === "number") return new Decimal(o["scale"], o["value"]);
  if (keys === "bytes") {
    const b = legacyValue(o["bytes"]);
    if (Buffer.isBuffer(b)) return new LongString(b);
  }
  return legacyTable(o);
}

export class CommandFormatError extends Error {}

type FieldKind = "string" | "boolean" | "strings" | "object" | "numbers" | "destType" | "table";
/** required fields per op; a trailing "?" marks an optional one */
const SCHEMA: { [O in CommandOp]: Record<string, FieldKind> } = {
  "vhost.add": { name: "string", description: "string", tags: "strings" },
  "vhost.update": { name: "string", description: "string", tags: "strings" },
  "vhost.delete": { name: "string" },
  "user.add": { name: "string", passwordHash: "string", hashingAlgorithm: "string", tags: "strings", "exportHash?": "string", "limits?": "numbers" },
  "user.delete": { name: "string" },
  "permission.set": { user: "string", vhost: "string", configure: "string", write: "string", read: "string" },
  "permission.clear": { user: "string", vhost: "string" },
  "topic-permission.set": { user: "string", vhost: "string", exchange: "string", write: "string", read: "string" },
  "topic-permission.clear": { user: "string", vhost: "string", "exchange?": "string" },
  "exchange.declare": { vhost: "string", name: "string", type: "string", durable: "boolean", autoDelete: "boolean", internal: "boolean", arguments: "table" },
  "exchange.delete": { vhost: "string", name: "string", "ifUnused?": "boolean" },
  "queue.declare": { vhost: "string", name: "string", durable: "boolean", "exclusive?": "boolean", autoDelete: "boolean", arguments: "table" },
  "queue.delete": { vhost: "string", name: "string", "ifUnused?": "boolean", "ifEmpty?": "boolean" },
  bind: { vhost: "string", source: "string", destination: "string", destinationType: "destType", routingKey: "string", arguments: "table" },
  unbind: { vhost: "string", source: "string", destination: "string", destinationType: "destType", routingKey: "string", arguments: "table" },
  "policy.set": { vhost: "string", name: "string", value: "object" },
  "policy.clear": { vhost: "string", name: "string" },
  "parameter.set": { component: "string", vhost: "string", name: "string", value: "object" },
  "parameter.clear": { component: "string", vhost: "string", name: "string" },
  "global-parameter.set": { name: "string", value: "object" },
  "global-parameter.clear": { name: "string" },
};

/**
 * Format-1 records written before the shapes were typed left out fields that had defaults
 * (an exchange.declare without autoDelete/internal, a vhost.add without tags).
 */
const LEGACY_DEFAULTS: Partial<Record<CommandOp, JsonObject>> = {
  "vhost.add": { description: "", tags: [] },
  "user.add": { hashingAlgorithm: "warren_scrypt", tags: [] },
  "exchange.declare": { durable: true, autoDelete: false, internal: false, arguments: {} },
  "queue.declare": { durable: true, autoDelete: false, arguments: {} },
  bind: { arguments: {} },
  unbind: { arguments: {} },
};

function kindOk(kind: FieldKind, v: unknown): boolean {
  switch (kind) {
    case "string":
      return typeof v === "string";
    case "boolean":
      return typeof v === "boolean";
    case "strings":
      return Array.isArray(v) && v.every((x) => typeof x === "string");
    case "object":
      return v !== null && typeof v === "object" && !Array.isArray(v);
    case "numbers":
      return v !== null && typeof v === "object" && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "number");
    case "destType":
      return v === "queue" || v === "exchange";
    case "table":
      return true; // decoded (and checked) by decodeFieldTable
  }
}

/**
 * Validate a serialised command (a definitions log line, a peer's message) and return it
 * typed, without `v`. Throws CommandFormatError naming the op and field for anything else.
 */
export function decodeCommand(raw: unknown): TopologyCommand {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new CommandFormatError("a command must be a JSON object");
  const { v = 1, op, ...rest } = raw as JsonObject;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new CommandFormatError(`command format '${String(v)}' is not a version number`);
  if (v > COMMAND_FORMAT) throw new CommandFormatError(`command format ${v} is newer than this warren understands (${COMMAND_FORMAT}); upgrade warren`);
  if (typeof op !== "string" || !Object.hasOwn(SCHEMA, op)) throw new CommandFormatError(`unknown command op '${String(op)}'`);
  const schema = SCHEMA[op as CommandOp];
  const fields: JsonObject = { ...LEGACY_DEFAULTS[op as CommandOp], ...rest };
  const out: JsonObject = { op };
  for (const [key, kind] of Object.entries(schema)) {
    const optional = key.endsWith("?");
    const name = optional ? key.slice(0, -1) : key;
    const value = fields[name];
    if (value === undefined || (optional && value === null)) {
      if (optional) continue;
      throw new CommandFormatError(`${op}: missing field '${name}'`);
    }
    if (kind === "table") {
      const table = decodeFieldTable(value);
      if (table === null) throw new CommandFormatError(`${op}: field '${name}' must be a field table`);
      out[name] = table;
      continue;
    }
    if (!kindOk(kind, value))
      throw new CommandFormatError(
        `${op}: field '${name}' must be ${kind === "strings" ? "a list of strings" : kind === "numbers" ? "an object of numbers" : kind === "destType" ? "'queue' or 'exchange'" : `a ${kind}`}`,
      );
    out[name] = value;
  }
  return out as TopologyCommand;
}
