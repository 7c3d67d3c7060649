// generated — do not edit. Source: ../shared/spec/amqp-rabbitmq-0.9.1.json (+ <response> elements
// from amqp0-9-1.stripped.extended.xml) via scripts/gen-codec.mjs; regenerate with `npm run gen`.
/**
 * AMQP 0-9-1 method codec (RabbitMQ's protocol table, extensions included).
 *
 * Owns: method ids, argument interfaces, METHOD_INFO, and one straight-line
 * decoder and encoder per method. Does not own: frame reading (frames.ts),
 * field tables (field-table.ts), content properties (properties.ts).
 *
 * A method frame payload is: class-id (u16) | method-id (u16) | arguments.
 * Method ids here are `classId << 16 | methodId`. Arguments are concatenated
 * big-endian: octet (u8), short (u16), long (u32), longlong/timestamp (u64),
 * shortstr (u8 length + UTF-8), longstr (u32 length + bytes), table (u32 length
 * + entries). Consecutive bit arguments share octets, least significant bit
 * first, 8 per octet; any other argument ends the run.
 *
 * JS mapping: integers are numbers; longlong/timestamp are exact up to 2^53
 * (delivery tags and seconds-since-epoch never get near it); longstr is a
 * UTF-8 string, except SASL/secret bytes (start-ok.response, secure.challenge,
 * secure-ok.response, update-secret.new-secret) which are Buffers; shortstr
 * is decoded as UTF-8.
 *
 * Decoding: `decodeX(buf, off, end)` reads arguments from buf[off, end) and
 * requires them to end exactly at `end`. Any overrun, short or over-long
 * argument block or malformed table throws AmqpError FRAME_ERROR with
 * RabbitMQ's text "FRAME_ERROR - cannot decode <<bytes>>" and the method's
 * class/method id (RabbitMQ 3.10 answers exactly so, also for trailing bytes).
 * An unknown method id throws COMMAND_INVALID (RabbitMQ drops the socket).
 * Decoders always set every field, so each method's objects share one shape.
 *
 * Encoding: `encodeXFrame(channel, args)` returns a complete method frame
 * (type 1, channel, size, payload, 0xCE). Missing arguments take the spec's
 * default (0, "", false, empty table, or the spec's explicit default).
 */
import { isUtf8 } from "node:buffer";
import { AmqpError, COMMAND_INVALID, FRAME_ERROR, FrameLevelError } from "../errors.js";
import { type FieldTable, decodeTable, encodedTableSize, writeTable } from "../field-table.js";

// ---- class ids

export const CLASS_BASIC = 60;
export const CLASS_CONNECTION = 10;
export const CLASS_CHANNEL = 20;
export const CLASS_ACCESS = 30;
export const CLASS_EXCHANGE = 40;
export const CLASS_QUEUE = 50;
export const CLASS_TX = 90;
export const CLASS_CONFIRM = 85;

// ---- method ids (classId << 16 | methodId)
export const BASIC_QOS = 0x003c000a; // basic.qos
export const BASIC_QOS_OK = 0x003c000b; // basic.qos-ok
export const BASIC_CONSUME = 0x003c0014; // basic.consume
export const BASIC_CONSUME_OK = 0x003c0015; // basic.consume-ok
export const BASIC_CANCEL = 0x003c001e; // basic.cancel
export const BASIC_CANCEL_OK = 0x003c001f; // basic.cancel-ok
export const BASIC_PUBLISH = 0x003c0028; // basic.publish
export const BASIC_RETURN = 0x003c0032; // basic.return
export const BASIC_DELIVER = 0x003c003c; // basic.deliver
export const BASIC_GET = 0x003c0046; // basic.get
export const BASIC_GET_OK = 0x003c0047; // basic.get-ok
export const BASIC_GET_EMPTY = 0x003c0048; // basic.get-empty
export const BASIC_ACK = 0x003c0050; // basic.ack
export const BASIC_REJECT = 0x003c005a; // basic.reject
export const BASIC_RECOVER_ASYNC = 0x003c0064; // basic.recover-async
export const BASIC_RECOVER = 0x003c006e; // basic.recover
export const BASIC_RECOVER_OK = 0x003c006f; // basic.recover-ok
export const BASIC_NACK = 0x003c0078; // basic.nack
export const CONNECTION_START = 0x000a000a; // connection.start
export const CONNECTION_START_OK = 0x000a000b; // connection.start-ok
export const CONNECTION_SECURE = 0x000a0014; // connection.secure
export const CONNECTION_SECURE_OK = 0x000a0015; // connection.secure-ok
export const CONNECTION_TUNE = 0x000a001e; // connection.tune
export const CONNECTION_TUNE_OK = 0x000a001f; // connection.tune-ok
export const CONNECTION_OPEN = 0x000a0028; // connection.open
export const CONNECTION_OPEN_OK = 0x000a0029; // connection.open-ok
export const CONNECTION_CLOSE = 0x000a0032; // connection.close
export const CONNECTION_CLOSE_OK = 0x000a0033; // connection.close-ok
export const CONNECTION_BLOCKED = 0x000a003c; // connection.blocked
export const CONNECTION_UNBLOCKED = 0x000a003d; // connection.unblocked
export const CONNECTION_UPDATE_SECRET = 0x000a0046; // connection.update-secret
export const CONNECTION_UPDATE_SECRET_OK = 0x000a0047; // connection.update-secret-ok
export const CHANNEL_OPEN = 0x0014000a; // channel.open
export const CHANNEL_OPEN_OK = 0x0014000b; // channel.open-ok
export const CHANNEL_FLOW = 0x00140014; // channel.flow
export const CHANNEL_FLOW_OK = 0x00140015; // channel.flow-ok
export const CHANNEL_CLOSE = 0x00140028; // channel.close
export const CHANNEL_CLOSE_OK = 0x00140029; // channel.close-ok
export const ACCESS_REQUEST = 0x001e000a; // access.request
export const ACCESS_REQUEST_OK = 0x001e000b; // access.request-ok
export const EXCHANGE_DECLARE = 0x0028000a; // exchange.declare
export const EXCHANGE_DECLARE_OK = 0x0028000b; // exchange.declare-ok
export const EXCHANGE_DELETE = 0x00280014; // exchange.delete
export const EXCHANGE_DELETE_OK = 0x00280015; // exchange.delete-ok
export const EXCHANGE_BIND = 0x0028001e; // exchange.bind
export const EXCHANGE_BIND_OK = 0x0028001f; // exchange.bind-ok
export const EXCHANGE_UNBIND = 0x00280028; // exchange.unbind
export const EXCHANGE_UNBIND_OK = 0x00280033; // exchange.unbind-ok
export const QUEUE_DECLARE = 0x0032000a; // queue.declare
export const QUEUE_DECLARE_OK = 0x0032000b; // queue.declare-ok
export const QUEUE_BIND = 0x00320014; // queue.bind
export const QUEUE_BIND_OK = 0x00320015; // queue.bind-ok
export const QUEUE_PURGE = 0x0032001e; // queue.purge
export const QUEUE_PURGE_OK = 0x0032001f; // queue.purge-ok
export const QUEUE_DELETE = 0x00320028; // queue.delete
export const QUEUE_DELETE_OK = 0x00320029; // queue.delete-ok
export const QUEUE_UNBIND = 0x00320032; // queue.unbind
export const QUEUE_UNBIND_OK = 0x00320033; // queue.unbind-ok
export const TX_SELECT = 0x005a000a; // tx.select
export const TX_SELECT_OK = 0x005a000b; // tx.select-ok
export const TX_COMMIT = 0x005a0014; // tx.commit
export const TX_COMMIT_OK = 0x005a0015; // tx.commit-ok
export const TX_ROLLBACK = 0x005a001e; // tx.rollback
export const TX_ROLLBACK_OK = 0x005a001f; // tx.rollback-ok
export const CONFIRM_SELECT = 0x0055000a; // confirm.select
export const CONFIRM_SELECT_OK = 0x0055000b; // confirm.select-ok

// ---- argument interfaces
/** basic.qos */
export interface BasicQos {
  prefetchSize: number; // default 0
  prefetchCount: number; // default 0
  global: boolean; // default false
}
/** basic.qos-ok (no arguments) */
export interface BasicQosOk {}
/** basic.consume */
export interface BasicConsume {
  ticket: number; // default 0
  queue: string; // default ""
  consumerTag: string; // default ""
  noLocal: boolean; // default false
  noAck: boolean; // default false
  exclusive: boolean; // default false
  nowait: boolean; // default false
  arguments: FieldTable;
}
/** basic.consume-ok */
export interface BasicConsumeOk {
  consumerTag: string;
}
/** basic.cancel */
export interface BasicCancel {
  consumerTag: string;
  nowait: boolean; // default false
}
/** basic.cancel-ok */
export interface BasicCancelOk {
  consumerTag: string;
}
/** basic.publish */
export interface BasicPublish {
  ticket: number; // default 0
  exchange: string; // default ""
  routingKey: string; // default ""
  mandatory: boolean; // default false
  immediate: boolean; // default false
}
/** basic.return */
export interface BasicReturn {
  replyCode: number;
  replyText: string; // default ""
  exchange: string;
  routingKey: string;
}
/** basic.deliver */
export interface BasicDeliver {
  consumerTag: string;
  deliveryTag: number;
  redelivered: boolean; // default false
  exchange: string;
  routingKey: string;
}
/** basic.get */
export interface BasicGet {
  ticket: number; // default 0
  queue: string; // default ""
  noAck: boolean; // default false
}
/** basic.get-ok */
export interface BasicGetOk {
  deliveryTag: number;
  redelivered: boolean; // default false
  exchange: string;
  routingKey: string;
  messageCount: number;
}
/** basic.get-empty */
export interface BasicGetEmpty {
  clusterId: string; // default ""
}
/** basic.ack */
export interface BasicAck {
  deliveryTag: number; // default 0
  multiple: boolean; // default false
}
/** basic.reject */
export interface BasicReject {
  deliveryTag: number;
  requeue: boolean; // default true
}
/** basic.recover-async */
export interface BasicRecoverAsync {
  requeue: boolean; // default false
}
/** basic.recover */
export interface BasicRecover {
  requeue: boolean; // default false
}
/** basic.recover-ok (no arguments) */
export interface BasicRecoverOk {}
/** basic.nack */
export interface BasicNack {
  deliveryTag: number; // default 0
  multiple: boolean; // default false
  requeue: boolean; // default true
}
/** connection.start */
export interface ConnectionStart {
  versionMajor: number; // default 0
  versionMinor: number; // default 9
  serverProperties: FieldTable;
  mechanisms: string; // default "PLAIN"
  locales: string; // default "en_US"
}
/** connection.start-ok */
export interface ConnectionStartOk {
  clientProperties: FieldTable;
  mechanism: string; // default "PLAIN"
  response: Buffer;
  locale: string; // default "en_US"
}
/** connection.secure */
export interface ConnectionSecure {
  challenge: Buffer;
}
/** connection.secure-ok */
export interface ConnectionSecureOk {
  response: Buffer;
}
/** connection.tune */
export interface ConnectionTune {
  channelMax: number; // default 0
  frameMax: number; // default 0
  heartbeat: number; // default 0
}
/** connection.tune-ok */
export interface ConnectionTuneOk {
  channelMax: number; // default 0
  frameMax: number; // default 0
  heartbeat: number; // default 0
}
/** connection.open */
export interface ConnectionOpen {
  virtualHost: string; // default "/"
  capabilities: string; // default ""
  insist: boolean; // default false
}
/** connection.open-ok */
export interface ConnectionOpenOk {
  knownHosts: string; // default ""
}
/** connection.close */
export interface ConnectionClose {
  replyCode: number;
  replyText: string; // default ""
  classId: number;
  methodId: number;
}
/** connection.close-ok (no arguments) */
export interface ConnectionCloseOk {}
/** connection.blocked */
export interface ConnectionBlocked {
  reason: string; // default ""
}
/** connection.unblocked (no arguments) */
export interface ConnectionUnblocked {}
/** connection.update-secret */
export interface ConnectionUpdateSecret {
  newSecret: Buffer;
  reason: string;
}
/** connection.update-secret-ok (no arguments) */
export interface ConnectionUpdateSecretOk {}
/** channel.open */
export interface ChannelOpen {
  outOfBand: string; // default ""
}
/** channel.open-ok */
export interface ChannelOpenOk {
  channelId: string; // default ""
}
/** channel.flow */
export interface ChannelFlow {
  active: boolean;
}
/** channel.flow-ok */
export interface ChannelFlowOk {
  active: boolean;
}
/** channel.close */
export interface ChannelClose {
  replyCode: number;
  replyText: string; // default ""
  classId: number;
  methodId: number;
}
/** channel.close-ok (no arguments) */
export interface ChannelCloseOk {}
/** access.request */
export interface AccessRequest {
  realm: string; // default "/data"
  exclusive: boolean; // default false
  passive: boolean; // default true
  active: boolean; // default true
  write: boolean; // default true
  read: boolean; // default true
}
/** access.request-ok */
export interface AccessRequestOk {
  ticket: number; // default 1
}
/** exchange.declare */
export interface ExchangeDeclare {
  ticket: number; // default 0
  exchange: string;
  type: string; // default "direct"
  passive: boolean; // default false
  durable: boolean; // default false
  autoDelete: boolean; // default false
  internal: boolean; // default false
  nowait: boolean; // default false
  arguments: FieldTable;
}
/** exchange.declare-ok (no arguments) */
export interface ExchangeDeclareOk {}
/** exchange.delete */
export interface ExchangeDelete {
  ticket: number; // default 0
  exchange: string;
  ifUnused: boolean; // default false
  nowait: boolean; // default false
}
/** exchange.delete-ok (no arguments) */
export interface ExchangeDeleteOk {}
/** exchange.bind */
export interface ExchangeBind {
  ticket: number; // default 0
  destination: string;
  source: string;
  routingKey: string; // default ""
  nowait: boolean; // default false
  arguments: FieldTable;
}
/** exchange.bind-ok (no arguments) */
export interface ExchangeBindOk {}
/** exchange.unbind */
export interface ExchangeUnbind {
  ticket: number; // default 0
  destination: string;
  source: string;
  routingKey: string; // default ""
  nowait: boolean; // default false
  arguments: FieldTable;
}
/** exchange.unbind-ok (no arguments) */
export interface ExchangeUnbindOk {}
/** queue.declare */
export interface QueueDeclare {
  ticket: number; // default 0
  queue: string; // default ""
  passive: boolean; // default false
  durable: boolean; // default false
  exclusive: boolean; // default false
  autoDelete: boolean; // default false
  nowait: boolean; // default false
  arguments: FieldTable;
}
/** queue.declare-ok */
export interface QueueDeclareOk {
  queue: string;
  messageCount: number;
  consumerCount: number;
}
/** queue.bind */
export interface QueueBind {
  ticket: number; // default 0
  queue: string; // default ""
  exchange: string;
  routingKey: string; // default ""
  nowait: boolean; // default false
  arguments: FieldTable;
}
/** queue.bind-ok (no arguments) */
export interface QueueBindOk {}
/** queue.purge */
export interface QueuePurge {
  ticket: number; // default 0
  queue: string; // default ""
  nowait: boolean; // default false
}
/** queue.purge-ok */
export interface QueuePurgeOk {
  messageCount: number;
}
/** queue.delete */
export interface QueueDelete {
  ticket: number; // default 0
  queue: string; // default ""
  ifUnused: boolean; // default false
  ifEmpty: boolean; // default false
  nowait: boolean; // default false
}
/** queue.delete-ok */
export interface QueueDeleteOk {
  messageCount: number;
}
/** queue.unbind */
export interface QueueUnbind {
  ticket: number; // default 0
  queue: string; // default ""
  exchange: string;
  routingKey: string; // default ""
  arguments: FieldTable;
}
/** queue.unbind-ok (no arguments) */
export interface QueueUnbindOk {}
/** tx.select (no arguments) */
export interface TxSelect {}
/** tx.select-ok (no arguments) */
export interface TxSelectOk {}
/** tx.commit (no arguments) */
export interface TxCommit {}
/** tx.commit-ok (no arguments) */
export interface TxCommitOk {}
/** tx.rollback (no arguments) */
export interface TxRollback {}
/** tx.rollback-ok (no arguments) */
export interface TxRollbackOk {}
/** confirm.select */
export interface ConfirmSelect {
  nowait: boolean; // default false
}
/** confirm.select-ok (no arguments) */
export interface ConfirmSelectOk {}

/** Argument type by method id, for typed dispatch: MethodArgsMap[typeof BASIC_PUBLISH] is BasicPublish. */
export interface MethodArgsMap {
  [BASIC_QOS]: BasicQos;
  [BASIC_QOS_OK]: BasicQosOk;
  [BASIC_CONSUME]: BasicConsume;
  [BASIC_CONSUME_OK]: BasicConsumeOk;
  [BASIC_CANCEL]: BasicCancel;
  [BASIC_CANCEL_OK]: BasicCancelOk;
  [BASIC_PUBLISH]: BasicPublish;
  [BASIC_RETURN]: BasicReturn;
  [BASIC_DELIVER]: BasicDeliver;
  [BASIC_GET]: BasicGet;
  [BASIC_GET_OK]: BasicGetOk;
  [BASIC_GET_EMPTY]: BasicGetEmpty;
  [BASIC_ACK]: BasicAck;
  [BASIC_REJECT]: BasicReject;
  [BASIC_RECOVER_ASYNC]: BasicRecoverAsync;
  [BASIC_RECOVER]: BasicRecover;
  [BASIC_RECOVER_OK]: BasicRecoverOk;
  [BASIC_NACK]: BasicNack;
  [CONNECTION_START]: ConnectionStart;
  [CONNECTION_START_OK]: ConnectionStartOk;
  [CONNECTION_SECURE]: ConnectionSecure;
  [CONNECTION_SECURE_OK]: ConnectionSecureOk;
  [CONNECTION_TUNE]: ConnectionTune;
  [CONNECTION_TUNE_OK]: ConnectionTuneOk;
  [CONNECTION_OPEN]: ConnectionOpen;
  [CONNECTION_OPEN_OK]: ConnectionOpenOk;
  [CONNECTION_CLOSE]: ConnectionClose;
  [CONNECTION_CLOSE_OK]: ConnectionCloseOk;
  [CONNECTION_BLOCKED]: ConnectionBlocked;
  [CONNECTION_UNBLOCKED]: ConnectionUnblocked;
  [CONNECTION_UPDATE_SECRET]: ConnectionUpdateSecret;
  [CONNECTION_UPDATE_SECRET_OK]: ConnectionUpdateSecretOk;
  [CHANNEL_OPEN]: ChannelOpen;
  [CHANNEL_OPEN_OK]: ChannelOpenOk;
  [CHANNEL_FLOW]: ChannelFlow;
  [CHANNEL_FLOW_OK]: ChannelFlowOk;
  [CHANNEL_CLOSE]: ChannelClose;
  [CHANNEL_CLOSE_OK]: ChannelCloseOk;
  [ACCESS_REQUEST]: AccessRequest;
  [ACCESS_REQUEST_OK]: AccessRequestOk;
  [EXCHANGE_DECLARE]: ExchangeDeclare;
  [EXCHANGE_DECLARE_OK]: ExchangeDeclareOk;
  [EXCHANGE_DELETE]: ExchangeDelete;
  [EXCHANGE_DELETE_OK]: ExchangeDeleteOk;
  [EXCHANGE_BIND]: ExchangeBind;
  [EXCHANGE_BIND_OK]: ExchangeBindOk;
  [EXCHANGE_UNBIND]: ExchangeUnbind;
  [EXCHANGE_UNBIND_OK]: ExchangeUnbindOk;
  [QUEUE_DECLARE]: QueueDeclare;
  [QUEUE_DECLARE_OK]: QueueDeclareOk;
  [QUEUE_BIND]: QueueBind;
  [QUEUE_BIND_OK]: QueueBindOk;
  [QUEUE_PURGE]: QueuePurge;
  [QUEUE_PURGE_OK]: QueuePurgeOk;
  [QUEUE_DELETE]: QueueDelete;
  [QUEUE_DELETE_OK]: QueueDeleteOk;
  [QUEUE_UNBIND]: QueueUnbind;
  [QUEUE_UNBIND_OK]: QueueUnbindOk;
  [TX_SELECT]: TxSelect;
  [TX_SELECT_OK]: TxSelectOk;
  [TX_COMMIT]: TxCommit;
  [TX_COMMIT_OK]: TxCommitOk;
  [TX_ROLLBACK]: TxRollback;
  [TX_ROLLBACK_OK]: TxRollbackOk;
  [CONFIRM_SELECT]: ConfirmSelect;
  [CONFIRM_SELECT_OK]: ConfirmSelectOk;
}

export interface MethodInfo {
  /** "basic.publish" */
  readonly name: string;
  readonly classId: number;
  readonly methodId: number;
  /** followed by a content header and body frames */
  readonly content: boolean;
  /** expects a reply (the spec's synchronous="1") */
  readonly synchronous: boolean;
  /** ids of the methods that may answer it (empty when asynchronous or itself a reply) */
  readonly responses: readonly number[];
}

export const METHOD_INFO: ReadonlyMap<number, MethodInfo> = new Map<number, MethodInfo>([
  [BASIC_QOS, { name: "basic.qos", classId: 60, methodId: 10, content: false, synchronous: true, responses: [BASIC_QOS_OK] }],
  [BASIC_QOS_OK, { name: "basic.qos-ok", classId: 60, methodId: 11, content: false, synchronous: false, responses: [] }],
  [BASIC_CONSUME, { name: "basic.consume", classId: 60, methodId: 20, content: false, synchronous: true, responses: [BASIC_CONSUME_OK] }],
  [BASIC_CONSUME_OK, { name: "basic.consume-ok", classId: 60, methodId: 21, content: false, synchronous: false, responses: [] }],
  [BASIC_CANCEL, { name: "basic.cancel", classId: 60, methodId: 30, content: false, synchronous: true, responses: [BASIC_CANCEL_OK] }],
  [BASIC_CANCEL_OK, { name: "basic.cancel-ok", classId: 60, methodId: 31, content: false, synchronous: false, responses: [] }],
  [BASIC_PUBLISH, { name: "basic.publish", classId: 60, methodId: 40, content: true, synchronous: false, responses: [] }],
  [BASIC_RETURN, { name: "basic.return", classId: 60, methodId: 50, content: true, synchronous: false, responses: [] }],
  [BASIC_DELIVER, { name: "basic.deliver", classId: 60, methodId: 60, content: true, synchronous: false, responses: [] }],
  [BASIC_GET, { name: "basic.get", classId: 60, methodId: 70, content: false, synchronous: true, responses: [BASIC_GET_OK, BASIC_GET_EMPTY] }],
  [BASIC_GET_OK, { name: "basic.get-ok", classId: 60, methodId: 71, content: true, synchronous: false, responses: [] }],
  [BASIC_GET_EMPTY, { name: "basic.get-empty", classId: 60, methodId: 72, content: false, synchronous: false, responses: [] }],
  [BASIC_ACK, { name: "basic.ack", classId: 60, methodId: 80, content: false, synchronous: false, responses: [] }],
  [BASIC_REJECT, { name: "basic.reject", classId: 60, methodId: 90, content: false, synchronous: false, responses: [] }],
  [BASIC_RECOVER_ASYNC, { name: "basic.recover-async", classId: 60, methodId: 100, content: false, synchronous: false, responses: [] }],
  [BASIC_RECOVER, { name: "basic.recover", classId: 60, methodId: 110, content: false, synchronous: true, responses: [BASIC_RECOVER_OK] }],
  [BASIC_RECOVER_OK, { name: "basic.recover-ok", classId: 60, methodId: 111, content: false, synchronous: false, responses: [] }],
  [BASIC_NACK, { name: "basic.nack", classId: 60, methodId: 120, content: false, synchronous: false, responses: [] }],
  [CONNECTION_START, { name: "connection.start", classId: 10, methodId: 10, content: false, synchronous: true, responses: [CONNECTION_START_OK] }],
  [CONNECTION_START_OK, { name: "connection.start-ok", classId: 10, methodId: 11, content: false, synchronous: false, responses: [] }],
  [CONNECTION_SECURE, { name: "connection.secure", classId: 10, methodId: 20, content: false, synchronous: true, responses: [CONNECTION_SECURE_OK] }],
  [CONNECTION_SECURE_OK, { name: "connection.secure-ok", classId: 10, methodId: 21, content: false, synchronous: false, responses: [] }],
  [CONNECTION_TUNE, { name: "connection.tune", classId: 10, methodId: 30, content: false, synchronous: true, responses: [CONNECTION_TUNE_OK] }],
  [CONNECTION_TUNE_OK, { name: "connection.tune-ok", classId: 10, methodId: 31, content: false, synchronous: false, responses: [] }],
  [CONNECTION_OPEN, { name: "connection.open", classId: 10, methodId: 40, content: false, synchronous: true, responses: [CONNECTION_OPEN_OK] }],
  [CONNECTION_OPEN_OK, { name: "connection.open-ok", classId: 10, methodId: 41, content: false, synchronous: false, responses: [] }],
  [CONNECTION_CLOSE, { name: "connection.close", classId: 10, methodId: 50, content: false, synchronous: true, responses: [CONNECTION_CLOSE_OK] }],
  [CONNECTION_CLOSE_OK, { name: "connection.close-ok", classId: 10, methodId: 51, content: false, synchronous: false, responses: [] }],
  [CONNECTION_BLOCKED, { name: "connection.blocked", classId: 10, methodId: 60, content: false, synchronous: false, responses: [] }],
  [CONNECTION_UNBLOCKED, { name: "connection.unblocked", classId: 10, methodId: 61, content: false, synchronous: false, responses: [] }],
  [CONNECTION_UPDATE_SECRET, { name: "connection.update-secret", classId: 10, methodId: 70, content: false, synchronous: true, responses: [CONNECTION_UPDATE_SECRET_OK] }],
  [CONNECTION_UPDATE_SECRET_OK, { name: "connection.update-secret-ok", classId: 10, methodId: 71, content: false, synchronous: false, responses: [] }],
  [CHANNEL_OPEN, { name: "channel.open", classId: 20, methodId: 10, content: false, synchronous: true, responses: [CHANNEL_OPEN_OK] }],
  [CHANNEL_OPEN_OK, { name: "channel.open-ok", classId: 20, methodId: 11, content: false, synchronous: false, responses: [] }],
  [CHANNEL_FLOW, { name: "channel.flow", classId: 20, methodId: 20, content: false, synchronous: true, responses: [CHANNEL_FLOW_OK] }],
  [CHANNEL_FLOW_OK, { name: "channel.flow-ok", classId: 20, methodId: 21, content: false, synchronous: false, responses: [] }],
  [CHANNEL_CLOSE, { name: "channel.close", classId: 20, methodId: 40, content: false, synchronous: true, responses: [CHANNEL_CLOSE_OK] }],
  [CHANNEL_CLOSE_OK, { name: "channel.close-ok", classId: 20, methodId: 41, content: false, synchronous: false, responses: [] }],
  [ACCESS_REQUEST, { name: "access.request", classId: 30, methodId: 10, content: false, synchronous: true, responses: [ACCESS_REQUEST_OK] }],
  [ACCESS_REQUEST_OK, { name: "access.request-ok", classId: 30, methodId: 11, content: false, synchronous: false, responses: [] }],
  [EXCHANGE_DECLARE, { name: "exchange.declare", classId: 40, methodId: 10, content: false, synchronous: true, responses: [EXCHANGE_DECLARE_OK] }],
  [EXCHANGE_DECLARE_OK, { name: "exchange.declare-ok", classId: 40, methodId: 11, content: false, synchronous: false, responses: [] }],
  [EXCHANGE_DELETE, { name: "exchange.delete", classId: 40, methodId: 20, content: false, synchronous: true, responses: [EXCHANGE_DELETE_OK] }],
  [EXCHANGE_DELETE_OK, { name: "exchange.delete-ok", classId: 40, methodId: 21, content: false, synchronous: false, responses: [] }],
  [EXCHANGE_BIND, { name: "exchange.bind", classId: 40, methodId: 30, content: false, synchronous: true, responses: [EXCHANGE_BIND_OK] }],
  [EXCHANGE_BIND_OK, { name: "exchange.bind-ok", classId: 40, methodId: 31, content: false, synchronous: false, responses: [] }],
  [EXCHANGE_UNBIND, { name: "exchange.unbind", classId: 40, methodId: 40, content: false, synchronous: true, responses: [EXCHANGE_UNBIND_OK] }],
  [EXCHANGE_UNBIND_OK, { name: "exchange.unbind-ok", classId: 40, methodId: 51, content: false, synchronous: false, responses: [] }],
  [QUEUE_DECLARE, { name: "queue.declare", classId: 50, methodId: 10, content: false, synchronous: true, responses: [QUEUE_DECLARE_OK] }],
  [QUEUE_DECLARE_OK, { name: "queue.declare-ok", classId: 50, methodId: 11, content: false, synchronous: false, responses: [] }],
  [QUEUE_BIND, { name: "queue.bind", classId: 50, methodId: 20, content: false, synchronous: true, responses: [QUEUE_BIND_OK] }],
  [QUEUE_BIND_OK, { name: "queue.bind-ok", classId: 50, methodId: 21, content: false, synchronous: false, responses: [] }],
  [QUEUE_PURGE, { name: "queue.purge", classId: 50, methodId: 30, content: false, synchronous: true, responses: [QUEUE_PURGE_OK] }],
  [QUEUE_PURGE_OK, { name: "queue.purge-ok", classId: 50, methodId: 31, content: false, synchronous: false, responses: [] }],
  [QUEUE_DELETE, { name: "queue.delete", classId: 50, methodId: 40, content: false, synchronous: true, responses: [QUEUE_DELETE_OK] }],
  [QUEUE_DELETE_OK, { name: "queue.delete-ok", classId: 50, methodId: 41, content: false, synchronous: false, responses: [] }],
  [QUEUE_UNBIND, { name: "queue.unbind", classId: 50, methodId: 50, content: false, synchronous: true, responses: [QUEUE_UNBIND_OK] }],
  [QUEUE_UNBIND_OK, { name: "queue.unbind-ok", classId: 50, methodId: 51, content: false, synchronous: false, responses: [] }],
  [TX_SELECT, { name: "tx.select", classId: 90, methodId: 10, content: false, synchronous: true, responses: [TX_SELECT_OK] }],
  [TX_SELECT_OK, { name: "tx.select-ok", classId: 90, methodId: 11, content: false, synchronous: false, responses: [] }],
  [TX_COMMIT, { name: "tx.commit", classId: 90, methodId: 20, content: false, synchronous: true, responses: [TX_COMMIT_OK] }],
  [TX_COMMIT_OK, { name: "tx.commit-ok", classId: 90, methodId: 21, content: false, synchronous: false, responses: [] }],
  [TX_ROLLBACK, { name: "tx.rollback", classId: 90, methodId: 30, content: false, synchronous: true, responses: [TX_ROLLBACK_OK] }],
  [TX_ROLLBACK_OK, { name: "tx.rollback-ok", classId: 90, methodId: 31, content: false, synchronous: false, responses: [] }],
  [CONFIRM_SELECT, { name: "confirm.select", classId: 85, methodId: 10, content: false, synchronous: true, responses: [CONFIRM_SELECT_OK] }],
  [CONFIRM_SELECT_OK, { name: "confirm.select-ok", classId: 85, methodId: 11, content: false, synchronous: false, responses: [] }],
]);

/** "basic.publish" for BASIC_PUBLISH; "unknown(<class>,<method>)" otherwise. */
export function methodName(id: number): string {
  return METHOD_INFO.get(id)?.name ?? `unknown(${id >>> 16},${id & 0xffff})`;
}

// ---- shared helpers

const EMPTY_BYTES = Buffer.alloc(0);

/** RabbitMQ's reply for undecodable arguments: FRAME_ERROR - cannot decode <<b1,b2,...>> (text cut at 255 bytes). */
function cannotDecode(id: number, buf: Buffer, off: number, end: number): AmqpError {
  // 128 bytes already print past the 255-byte reply-text limit; no need to format more.
  const stop = Math.min(end, buf.length, off + 128);
  const bytes: number[] = [];
  for (let i = off; i < stop; i++) bytes.push(buf[i]!);
  return new AmqpError(FRAME_ERROR, `cannot decode <<${bytes.join(",")}>>`, id >>> 16, id & 0xffff, true);
}

/**
 * A shortstr's text. Bytes that are not UTF-8 are refused as RabbitMQ refuses them, never
 * decoded lossily (distinct byte names would collapse into one U+FFFD name). ASCII, the
 * common case, is recognised by a byte loop; only other strings pay for isUtf8. (Erlang
 * also accepts encoded UTF-16 surrogates, ED A0 80; we refuse them: Node would decode
 * them to U+FFFD, and distinct names would collapse again.)
 */
function shortstrAt(_id: number, buf: Buffer, o: number, n: number): string {
  const stop = o + n;
  for (let i = o; i < stop; i++) {
    if (buf[i]! >= 0x80) {
      // RabbitMQ: connection.close 501 "Malformed UTF-8 in shortstr", class/method 0/0
      if (!isUtf8(buf.subarray(o, stop))) throw new FrameLevelError(FRAME_ERROR, "Malformed UTF-8 in shortstr");
      break;
    }
  }
  return buf.toString("utf8", o, stop);
}

let lastTableEnd = 0;

/** decodeTable bounded by the frame; its errors become the method's cannotDecode. Sets lastTableEnd. */
function tableAt(id: number, buf: Buffer, o: number, off: number, end: number): FieldTable {
  try {
    const r = decodeTable(buf, o, end);
    lastTableEnd = r.end;
    return r.table;
  } catch (e) {
    if (e instanceof AmqpError) throw cannotDecode(id, buf, off, end);
    throw e;
  }
}

function shortstrTooLong(method: string, field: string, len: number): RangeError {
  return new RangeError(`${method}: ${field} is ${len} bytes; a shortstr holds at most 255`);
}

// ---- decoders
export function decodeBasicQos(buf: Buffer, off: number, end: number): BasicQos {
  let o = off;
  if (o + 7 > end) throw cannotDecode(BASIC_QOS, buf, off, end);
  const f_prefetchSize = buf.readUInt32BE(o);
  const f_prefetchCount = (buf[o + 4]! << 8) | buf[o + 5]!;
  const bits0 = buf[o + 6]!;
  const f_global = (bits0 & 1) !== 0;
  o += 7;
  if (o !== end) throw cannotDecode(BASIC_QOS, buf, off, end);
  return { prefetchSize: f_prefetchSize, prefetchCount: f_prefetchCount, global: f_global };
}

export function decodeBasicQosOk(buf: Buffer, off: number, end: number): BasicQosOk {
  if (off !== end) throw cannotDecode(BASIC_QOS_OK, buf, off, end);
  return {};
}

export function decodeBasicConsume(buf: Buffer, off: number, end: number): BasicConsume {
  let o = off;
  let n = 0;
  if (o + 3 > end) throw cannotDecode(BASIC_CONSUME, buf, off, end);
  const f_ticket = (buf[o]! << 8) | buf[o + 1]!;
  n = buf[o + 2]!;
  o += 3;
  if (o + n + 1 > end) throw cannotDecode(BASIC_CONSUME, buf, off, end);
  const f_queue = shortstrAt(BASIC_CONSUME, buf, o, n);
  o += n;
  n = buf[o]!;
  o += 1;
  if (o + n + 1 > end) throw cannotDecode(BASIC_CONSUME, buf, off, end);
  const f_consumerTag = shortstrAt(BASIC_CONSUME, buf, o, n);
  o += n;
  const bits0 = buf[o]!;
  const f_noLocal = (bits0 & 1) !== 0;
  const f_noAck = (bits0 & 2) !== 0;
  const f_exclusive = (bits0 & 4) !== 0;
  const f_nowait = (bits0 & 8) !== 0;
  o += 1;
  const f_arguments = tableAt(BASIC_CONSUME, buf, o, off, end);
  o = lastTableEnd;
  if (o !== end) throw cannotDecode(BASIC_CONSUME, buf, off, end);
  return { ticket: f_ticket, queue: f_queue, consumerTag: f_consumerTag, noLocal: f_noLocal, noAck: f_noAck, exclusive: f_exclusive, nowait: f_nowait, arguments: f_arguments };
}

export function decodeBasicConsumeOk(buf: Buffer, off: number, end: number): BasicConsumeOk {
  let o = off;
  let n = 0;
  if (o + 1 > end) throw cannotDecode(BASIC_CONSUME_OK, buf, off, end);
  n = buf[o]!;
  o += 1;
  if (o + n > end) throw cannotDecode(BASIC_CONSUME_OK, buf, off, end);
  const f_consumerTag = shortstrAt(BASIC_CONSUME_OK, buf, o, n);
  o += n;
  if (o !== end) throw cannotDecode(BASIC_CONSUME_OK, buf, off, end);
  return { consumerTag: f_consumerTag };
}

export function decodeBasicCancel(buf: Buffer, off: number, end: number): BasicCancel {
  let o = off;
  let n = 0;
  if (o + 1 > end) throw cannotDecode(BASIC_CANCEL, buf, off, end);
  n = buf[o]!;
  o += 1;
  if (o + n + 1 > end) throw cannotDecode(BASIC_CANCEL, buf, off, end);
  const f_consumerTag = shortstrAt(BASIC_CANCEL, buf, o, n);
  o += n;
  const bits0 = buf[o]!;
  const f_nowait = (bits0 & 1) !== 0;
  o += 1;
  if (o !== end) throw cannotDecode(BASIC_CANCEL, buf, off, end);
  return { consumerTag: f_consumerTag, nowait: f_nowait };
}

export function decodeBasicCancelOk(buf: Buffer, off: number, end: number): BasicCancelOk {
  let o = off;
  let n = 0;
  if (o + 1 > end) throw cannotDecode(BASIC_CANCEL_OK, buf, off, end);
  n = buf[o]!;
  o += 1;
  if (o + n > end) throw cannotDecode(BASIC_CANCEL_OK, buf, off, end);
  const f_consumerTag = shortstrAt(BASIC_CANCEL_OK, buf, o, n);
  o += n;
  if (o !== end) throw cannotDecode(BASIC_CANCEL_OK, buf, off, end);
  return { consumerTag: f_consumerTag };
}

export function decodeBasicPublish(buf: Buffer, off: number, end: number): BasicPublish {
  let o = off;
  let n = 0;
  if (o + 3 > end) throw cannotDecode(BASIC_PUBLISH, buf, off, end);
  const f_ticket = (buf[o]! << 8) | buf[o + 1]!;
  n = buf[o + 2]!;
  o += 3;
  if (o + n + 1 > end) throw cannotDecode(BASIC_PUBLISH, buf, off, end);
  const f_exchange = shortstrAt(BASIC_PUBLISH, buf, o, n);
  o += n;
  n = buf[o]!;
  o += 1;
  if (o + n + 1 > end) throw cannotDecode(BASIC_PUBLISH, buf, off, end);
  const f_routingKey = shortstrAt(BASIC_PUBLISH, buf, o, n);
  o += n;
  const bits0 = buf[o]!;
  const f_mandatory = (bits0 & 1) !== 0;
  const f_immediate = (bits0 & 2) !== 0;
  o += 1;
  if (o !== end) throw cannotDecode(BASIC_PUBLISH, buf, off, end);
  return { ticket: f_ticket, exchange: f_exchange, routingKey: f_routingKey, mandatory: f_mandatory, immediate: f_immediate };
}

export function decodeBasicReturn(buf: Buffer, off: number, end: number): BasicReturn {
  let o = off;
  let n = 0;
  if (o + 3 > end) throw cannotDecode(BASIC_RETURN, buf, off, end);
  const f_replyCode = (buf[o]! << 8) | buf[o + 1]!;
  n = buf[o + 2]!;
  o += 3;
  if (o + n + 1 > end) throw cannotDecode(BASIC_RETURN, buf, off, end);
  const f_replyText = shortstrAt(BASIC_RETURN, buf, o, n);
  o += n;
  n = buf[o]!;
  o += 1;
  if (o + n + 1 > end) throw cannotDecode(BASIC_RETURN, buf, off, end);
  const f_exchange = shortstrAt(BASIC_RETURN, buf, o, n);
  o += n;
  n = buf[o]!;
  o += 1;
  if (o + n > end) throw cannotDecode(BASIC_RETURN, buf, off, end);
  const f_routingKey = shortstrAt(BASIC_RETURN, buf, o, n);
  o += n;
  if (o !== end) throw cannotDecode(BASIC_RETURN, buf, off, end);
  return { replyCode: f_replyCode, replyText: f_replyText, exchange: f_exchange, routingKey: f_routingKey };
}

export function decodeBasicDeliver(buf: Buffer, off: number, end: number): BasicDeliver {
  let o = off;
  let n = 0;
  if (o + 1 > end) throw cannotDecode(BASIC_DELIVER, buf, off, end);
  n = buf[o]!;
  o += 1;
  if (o + n + 10 > end) throw cannotDecode(BASIC_DELIVER, buf, off, end);
  const f_consumerTag = shortstrAt(BASIC_DELIVER, buf, o, n);
  o += n;
  const f_deliveryTag = buf.readUInt32BE(o) * 0x100000000 + buf.readUInt32BE(o + 4);
  const bits0 = buf[o + 8]!;
  const f_redelivered = (bits0 & 1) !== 0;
  n = buf[o + 9]!;
  o += 10;
  if (o + n + 1 > end) throw cannotDecode(BASIC_DELIVER, buf, off, end);
  const f_exchange = shortstrAt(BASIC_DELIVER, buf, o, n);
  o += n;
  n = buf[o]!;
  o += 1;
  if (o + n > end) throw cannotDecode(BASIC_DELIVER, buf, off, end);
  const f_routingKey = shortstrAt(BASIC_DELIVER, buf, o, n);
  o += n;
  if (o !== end) throw cannotDecode(BASIC_DELIVER, buf, off, end);
  return { consumerTag: f_consumerTag, deliveryTag: f_deliveryTag, redelivered: f_redelivered, exchange: f_exchange, routingKey: f_routingKey };
}

export function decodeBasicGet(buf: Buffer, off: number, end: number): BasicGet {
  let o = off;
  let n = 0;
  if (o + 3 > end) throw cannotDecode(BASIC_GET, buf, off, end);
  const f_ticket = (buf[o]! << 8) | buf[o + 1]!;
  n = buf[o + 2]!;
  o += 3;
  if (o + n + 1 > end) throw cannotDecode(BASIC_GET, buf, off, end);
  const f_queue = shortstrAt(BASIC_GET, buf, o, n);
  o += n;
  const bits0 = buf[o]!;
  const f_noAck = (bits0 & 1) !== 0;
  o += 1;
  if (o !== end) throw cannotDecode(BASIC_GET, buf, off, end);
  return { ticket: f_ticket, queue: f_queue, noAck: f_noAck };
}

export function decodeBasicGetOk(buf: Buffer, off: number, end: number): BasicGetOk {
  let o = off;
  let n = 0;
  if (o + 10 > end) throw cannotDecode(BASIC_GET_OK, buf, off, end);
  const f_deliveryTag = buf.readUInt32BE(o) * 0x100000000 + buf.readUInt32BE(o + 4);
  const bits0 = buf[o + 8]!;
  const f_redelivered = (bits0 & 1) !== 0;
  n = buf[o + 9]!;
  o += 10;
  if (o + n + 1 > end) throw cannotDecode(BASIC_GET_OK, buf, off, end);
  const f_exchange = shortstrAt(BASIC_GET_OK, buf, o, n);
  o += n;
  n = buf[o]!;
  o += 1;
  if (o + n + 4 > end) throw cannotDecode(BASIC_GET_OK, buf, off, end);
  const f_routingKey = shortstrAt(BASIC_GET_OK, buf, o, n);
  o += n;
  const f_messageCount = buf.readUInt32BE(o);
  o += 4;
  if (o !== end) throw cannotDecode(BASIC_GET_OK, buf, off, end);
  return { deliveryTag: f_deliveryTag, redelivered: f_redelivered, exchange: f_exchange, routingKey: f_routingKey, messageCount: f_messageCount };
}

export function decodeBasicGetEmpty(buf: Buffer, off: number, end: number): BasicGetEmpty {
  let o = off;
  let n = 0;
  if (o + 1 > end) throw cannotDecode(BASIC_GET_EMPTY, buf, off, end);
  n = buf[o]!;
  o += 1;
  if (o + n > end) throw cannotDecode(BASIC_GET_EMPTY, buf, off, end);
  const f_clusterId = shortstrAt(BASIC_GET_EMPTY, buf, o, n);
  o += n;
  if (o !== end) throw cannotDecode(BASIC_GET_EMPTY, buf, off, end);
  return { clusterId: f_clusterId };
}

export function decodeBasicAck(buf: Buffer, off: number, end: number): BasicAck {
  let o = off;
  if (o + 9 > end) throw cannotDecode(BASIC_ACK, buf, off, end);
  const f_deliveryTag = buf.readUInt32BE(o) * 0x100000000 + buf.readUInt32BE(o + 4);
  const bits0 = buf[o + 8]!;
  const f_multiple = (bits0 & 1) !== 0;
  o += 9;
  if (o !== end) throw cannotDecode(BASIC_ACK, buf, off, end);
  return { deliveryTag: f_deliveryTag, multiple: f_multiple };
}

export function decodeBasicReject(buf: Buffer, off: number, end: number): BasicReject {
  let o = off;
  if (o + 9 > end) throw cannotDecode(BASIC_REJECT, buf, off, end);
  const f_deliveryTag = buf.readUInt32BE(o) * 0x100000000 + buf.readUInt32BE(o + 4);
  const bits0 = buf[o + 8]!;
  const f_requeue = (bits0 & 1) !== 0;
  o += 9;
  if (o !== end) throw cannotDecode(BASIC_REJECT, buf, off, end);
  return { deliveryTag: f_deliveryTag, requeue: f_requeue };
}

export function decodeBasicRecoverAsync(buf: Buffer, off: number, end: number): BasicRecoverAsync {
  let o = off;
  if (o + 1 > end) throw cannotDecode(BASIC_RECOVER_ASYNC, buf, off, end);
  const bits0 = buf[o]!;
  const f_requeue = (bits0 & 1) !== 0;
  o += 1;
  if (o !== end) throw cannotDecode(BASIC_RECOVER_ASYNC, buf, off, end);
  return { requeue: f_requeue };
}

export function decodeBasicRecover(buf: Buffer, off: number, end: number): BasicRecover {
  let o = off;
  if (o + 1 > end) throw cannotDecode(BASIC_RECOVER, buf, off, end);
  const bits0 = buf[o]!;
  const f_requeue = (bits0 & 1) !== 0;
  o += 1;
  if (o !== end) throw cannotDecode(BASIC_RECOVER, buf, off, end);
  return { requeue: f_requeue };
}

export function decodeBasicRecoverOk(buf: Buffer, off: number, end: number): BasicRecoverOk {
  if (off !== end) throw cannotDecode(BASIC_RECOVER_OK, buf, off, end);
  return {};
}

export function decodeBasicNack(buf: Buffer, off: number, end: number): BasicNack {
  let o = off;
  if (o + 9 > end) throw cannotDecode(BASIC_NACK, buf, off, end);
  const f_deliveryTag = buf.readUInt32BE(o) * 0x100000000 + buf.readUInt32BE(o + 4);
  const bits0 = buf[o + 8]!;
  const f_multiple = (bits0 & 1) !== 0;
  const f_requeue = (bits0 & 2) !== 0;
  o += 9;
  if (o !== end) throw cannotDecode(BASIC_NACK, buf, off, end);
  return { deliveryTag: f_deliveryTag, multiple: f_multiple, requeue: f_requeue };
}

export function decodeConnectionStart(buf: Buffer, off: number, end: number): ConnectionStart {
  let o = off;
  let n = 0;
  if (o + 2 > end) throw cannotDecode(CONNECTION_START, buf, off, end);
  const f_versionMajor = buf[o]!;
  const f_versionMinor = buf[o + 1]!;
  o += 2;
  const f_serverProperties = tableAt(CONNECTION_START, buf, o, off, end);
  o = lastTableEnd;
  if (o + 4 > end) throw cannotDecode(CONNECTION_START, buf, off, end);
  n = buf.readUInt32BE(o);
  o += 4;
  if (o + n + 4 > end) throw cannotDecode(CONNECTION_START, buf, off, end);
  const f_mechanisms = buf.toString("utf8", o, o + n);
  o += n;
  n = buf.readUInt32BE(o);
  o += 4;
  if (o + n > end) throw cannotDecode(CONNECTION_START, buf, off, end);
  const f_locales = buf.toString("utf8", o, o + n);
  o += n;
  if (o !== end) throw cannotDecode(CONNECTION_START, buf, off, end);
  return { versionMajor: f_versionMajor, versionMinor: f_versionMinor, serverProperties: f_serverProperties, mechanisms: f_mechanisms, locales: f_locales };
}

export function decodeConnectionStartOk(buf: Buffer, off: number, end: number): ConnectionStartOk {
  let o = off;
  let n = 0;
  const f_clientProperties = tableAt(CONNECTION_START_OK, buf, o, off, end);
  o = lastTableEnd;
  if (o + 1 > end) throw cannotDecode(CONNECTION_START_OK, buf, off, end);
  n = buf[o]!;
  o += 1;
  if (o + n + 4 > end) throw cannotDecode(CONNECTION_START_OK, buf, off, end);
  const f_mechanism = shortstrAt(CONNECTION_START_OK, buf, o, n);
  o += n;
  n = buf.readUInt32BE(o);
  o += 4;
  if (o + n + 1 > end) throw cannotDecode(CONNECTION_START_OK, buf, off, end);
  const f_response = Buffer.from(buf.subarray(o, o + n));
  o += n;
  n = buf[o]!;
  o += 1;
  if (o + n > end) throw cannotDecode(CONNECTION_START_OK, buf, off, end);
  const f_locale = shortstrAt(CONNECTION_START_OK, buf, o, n);
  o += n;
  if (o !== end) throw cannotDecode(CONNECTION_START_OK, buf, off, end);
  return { clientProperties: f_clientProperties, mechanism: f_mechanism, response: f_response, locale: f_locale };
}

export function decodeConnectionSecure(buf: Buffer, off: number, end: number): ConnectionSecure {
  let o = off;
  let n = 0;
  if (o + 4 > end) throw cannotDecode(CONNECTION_SECURE, buf, off, end);
  n = buf.readUInt32BE(o);
  o += 4;
  if (o + n > end) throw cannotDecode(CONNECTION_SECURE, buf, off, end);
  const f_challenge = Buffer.from(buf.subarray(o, o + n));
  o += n;
  if (o !== end) throw cannotDecode(CONNECTION_SECURE, buf, off, end);
  return { challenge: f_challenge };
}

export function decodeConnectionSecureOk(buf: Buffer, off: number, end: number): ConnectionSecureOk {
  let o = off;
  let n = 0;
  if (o + 4 > end) throw cannotDecode(CONNECTION_SECURE_OK, buf, off, end);
  n = buf.readUInt32BE(o);
  o += 4;
  if (o + n > end) throw cannotDecode(CONNECTION_SECURE_OK, buf, off, end);
  const f_response = Buffer.from(buf.subarray(o, o + n));
  o += n;
  if (o !== end) throw cannotDecode(CONNECTION_SECURE_OK, buf, off, end);
  return { response: f_response };
}

export function decodeConnectionTune(buf: Buffer, off: number, end: number): ConnectionTune {
  let o = off;
  if (o + 8 > end) throw cannotDecode(CONNECTION_TUNE, buf, off, end);
  const f_channelMax = (buf[o]! << 8) | buf[o + 1]!;
  const f_frameMax = buf.readUInt32BE(o + 2);
  const f_heartbeat = (buf[o + 6]! << 8) | buf[o + 7]!;
  o += 8;
  if (o !== end) throw cannotDecode(CONNECTION_TUNE, buf, off, end);
  return { channelMax: f_channelMax, frameMax: f_frameMax, heartbeat: f_heartbeat };
}

export function decodeConnectionTuneOk(buf: Buffer, off: number, end: number): ConnectionTuneOk {
  let o = off;
  if (o + 8 > end) throw cannotDecode(CONNECTION_TUNE_OK, buf, off, end);
  const f_channelMax = (buf[o]! << 8) | buf[o + 1]!;
  const f_frameMax = buf.readUInt32BE(o + 2);
  const f_heartbeat = (buf[o + 6]! << 8) | buf[o + 7]!;
  o += 8;
  if (o !== end) throw cannotDecode(CONNECTION_TUNE_OK, buf, off, end);
  return { channelMax: f_channelMax, frameMax: f_frameMax, heartbeat: f_heartbeat };
}

export function decodeConnectionOpen(buf: Buffer, off: number, end: number): ConnectionOpen {
  let o = off;
  let n = 0;
  if (o + 1 > end) throw cannotDecode(CONNECTION_OPEN, buf, off, end);
  n = buf[o]!;
  o += 1;
  if (o + n + 1 > end) throw cannotDecode(CONNECTION_OPEN, buf, off, end);
  const f_virtualHost = shortstrAt(CONNECTION_OPEN, buf, o, n);
  o += n;
  n = buf[o]!;
  o += 1;
  if (o + n + 1 > end) throw cannotDecode(CONNECTION_OPEN, buf, off, end);
  const f_capabilities = shortstrAt(CONNECTION_OPEN, buf, o, n);
  o += n;
  const bits0 = buf[o]!;
  const f_insist = (bits0 & 1) !== 0;
  o += 1;
  if (o !== end) throw cannotDecode(CONNECTION_OPEN, buf, off, end);
  return { virtualHost: f_virtualHost, capabilities: f_capabilities, insist: f_insist };
}

export function decodeConnectionOpenOk(buf: Buffer, off: number, end: number): ConnectionOpenOk {
  let o = off;
  let n = 0;
  if (o + 1 > end) throw cannotDecode(CONNECTION_OPEN_OK, buf, off, end);
  n = buf[o]!;
  o += 1;
  if (o + n > end) throw cannotDecode(CONNECTION_OPEN_OK, buf, off, end);
  const f_knownHosts = shortstrAt(CONNECTION_OPEN_OK, buf, o, n);
  o += n;
  if (o !== end) throw cannotDecode(CONNECTION_OPEN_OK, buf, off, end);
  return { knownHosts: f_knownHosts };
}

export function decodeConnectionClose(buf: Buffer, off: number, end: number): ConnectionClose {
  let o = off;
  let n = 0;
  if (o + 3 > end) throw cannotDecode(CONNECTION_CLOSE, buf, off, end);
  const f_replyCode = (buf[o]! << 8) | buf[o + 1]!;
  n = buf[o + 2]!;
  o += 3;
  if (o + n + 4 > end) throw cannotDecode(CONNECTION_CLOSE, buf, off, end);
  const f_replyText = shortstrAt(CONNECTION_CLOSE, buf, o, n);
  o += n;
  const f_classId = (buf[o]! << 8) | buf[o + 1]!;
  const f_methodId = (buf[o + 2]! << 8) | buf[o + 3]!;
  o += 4;
  if (o !== end) throw cannotDecode(CONNECTION_CLOSE, buf, off, end);
  return { replyCode: f_replyCode, replyText: f_replyText, classId: f_classId, methodId: f_methodId };
}

export function decodeConnectionCloseOk(buf: Buffer, off: number, end: number): ConnectionCloseOk {
  if (off !== end) throw cannotDecode(CONNECTION_CLOSE_OK, buf, off, end);
  return {};
}

export function decodeConnectionBlocked(buf: Buffer, off: number, end: number): ConnectionBlocked {
  let o = off;
  let n = 0;
  if (o + 1 > end) throw cannotDecode(CONNECTION_BLOCKED, buf, off, end);
  n = buf[o]!;
  o += 1;
  if (o + n > end) throw cannotDecode(CONNECTION_BLOCKED, buf, off, end);
  const f_reason = shortstrAt(CONNECTION_BLOCKED, buf, o, n);
  o += n;
  if (o !== end) throw cannotDecode(CONNECTION_BLOCKED, buf, off, end);
  return { reason: f_reason };
}

export function decodeConnectionUnblocked(buf: Buffer, off: number, end: number): ConnectionUnblocked {
  if (off !== end) throw cannotDecode(CONNECTION_UNBLOCKED, buf, off, end);
  return {};
}

export function decodeConnectionUpdateSecret(buf: Buffer, off: number, end: number): ConnectionUpdateSecret {
  let o = off;
  let n = 0;
  if (o + 4 > end) throw cannotDecode(CONNECTION_UPDATE_SECRET, buf, off, end);
  n = buf.readUInt32BE(o);
  o += 4;
  if (o + n + 1 > end) throw cannotDecode(CONNECTION_UPDATE_SECRET, buf, off, end);
  const f_newSecret = Buffer.from(buf.subarray(o, o + n));
  o += n;
  n = buf[o]!;
  o += 1;
  if (o + n > end) throw cannotDecode(CONNECTION_UPDATE_SECRET, buf, off, end);
  const f_reason = shortstrAt(CONNECTION_UPDATE_SECRET, buf, o, n);
  o += n;
  if (o !== end) throw cannotDecode(CONNECTION_UPDATE_SECRET, buf, off, end);
  return { newSecret: f_newSecret, reason: f_reason };
}

export function decodeConnectionUpdateSecretOk(buf: Buffer, off: number, end: number): ConnectionUpdateSecretOk {
  if (off !== end) throw cannotDecode(CONNECTION_UPDATE_SECRET_OK, buf, off, end);
  return {};
}

export function decodeChannelOpen(buf: Buffer, off: number, end: number): ChannelOpen {
  let o = off;
  let n = 0;
  if (o + 1 > end) throw cannotDecode(CHANNEL_OPEN, buf, off, end);
  n = buf[o]!;
  o += 1;
  if (o + n > end) throw cannotDecode(CHANNEL_OPEN, buf, off, end);
  const f_outOfBand = shortstrAt(CHANNEL_OPEN, buf, o, n);
  o += n;
  if (o !== end) throw cannotDecode(CHANNEL_OPEN, buf, off, end);
  return { outOfBand: f_outOfBand };
}

export function decodeChannelOpenOk(buf: Buffer, off: number, end: number): ChannelOpenOk {
  let o = off;
  let n = 0;
  if (o + 4 > end) throw cannotDecode(CHANNEL_OPEN_OK, buf, off, end);
  n = buf.readUInt32BE(o);
  o += 4;
  if (o + n > end) throw cannotDecode(CHANNEL_OPEN_OK, buf, off, end);
  const f_channelId = buf.toString("utf8", o, o + n);
  o += n;
  if (o !== end) throw cannotDecode(CHANNEL_OPEN_OK, buf, off, end);
  return { channelId: f_channelId };
}

export function decodeChannelFlow(buf: Buffer, off: number, end: number): ChannelFlow {
  let o = off;
  if (o + 1 > end) throw cannotDecode(CHANNEL_FLOW, buf, off, end);
  const bits0 = buf[o]!;
  const f_active = (bits0 & 1) !== 0;
  o += 1;
  if (o !== end) throw cannotDecode(CHANNEL_FLOW, buf, off, end);
  return { active: f_active };
}

export function decodeChannelFlowOk(buf: Buffer, off: number, end: number): ChannelFlowOk {
  let o = off;
  if (o + 1 > end) throw cannotDecode(CHANNEL_FLOW_OK, buf, off, end);
  const bits0 = buf[o]!;
  const f_active = (bits0 & 1) !== 0;
  o += 1;
  if (o !== end) throw cannotDecode(CHANNEL_FLOW_OK, buf, off, end);
  return { active: f_active };
}

export function decodeChannelClose(buf: Buffer, off: number, end: number): ChannelClose {
  let o = off;
  let n = 0;
  if (o + 3 > end) throw cannotDecode(CHANNEL_CLOSE, buf, off, end);
  const f_replyCode = (buf[o]! << 8) | buf[o + 1]!;
  n = buf[o + 2]!;
  o += 3;
  if (o + n + 4 > end) throw cannotDecode(CHANNEL_CLOSE, buf, off, end);
  const f_replyText = shortstrAt(CHANNEL_CLOSE, buf, o, n);
  o += n;
  const f_classId = (buf[o]! << 8) | buf[o + 1]!;
  const f_methodId = (buf[o + 2]! << 8) | buf[o + 3]!;
  o += 4;
  if (o !== end) throw cannotDecode(CHANNEL_CLOSE, buf, off, end);
  return { replyCode: f_replyCode, replyText: f_replyText, classId: f_classId, methodId: f_methodId };
}

export function decodeChannelCloseOk(buf: Buffer, off: number, end: number): ChannelCloseOk {
  if (off !== end) throw cannotDecode(CHANNEL_CLOSE_OK, buf, off, end);
  return {};
}

export function decodeAccessRequest(buf: Buffer, off: number, end: number): AccessRequest {
  let o = off;
  let n = 0;
  if (o + 1 > end) throw cannotDecode(ACCESS_REQUEST, buf, off, end);
  n = buf[o]!;
  o += 1;
  if (o + n + 1 > end) throw cannotDecode(ACCESS_REQUEST, buf, off, end);
  const f_realm = shortstrAt(ACCESS_REQUEST, buf, o, n);
  o += n;
  const bits0 = buf[o]!;
  const f_exclusive = (bits0 & 1) !== 0;
  const f_passive = (bits0 & 2) !== 0;
  const f_active = (bits0 & 4) !== 0;
  const f_write = (bits0 & 8) !== 0;
  const f_read = (bits0 & 16) !== 0;
  o += 1;
  if (o !== end) throw cannotDecode(ACCESS_REQUEST, buf, off, end);
  return { realm: f_realm, exclusive: f_exclusive, passive: f_passive, active: f_active, write: f_write, read: f_read };
}

export function decodeAccessRequestOk(buf: Buffer, off: number, end: number): AccessRequestOk {
  let o = off;
  if (o + 2 > end) throw cannotDecode(ACCESS_REQUEST_OK, buf, off, end);
  const f_ticket = (buf[o]! << 8) | buf[o + 1]!;
  o += 2;
  if (o !== end) throw cannotDecode(ACCESS_REQUEST_OK, buf, off, end);
  return { ticket: f_ticket };
}

export function decodeExchangeDeclare(buf: Buffer, off: number, end: number): ExchangeDeclare {
  let o = off;
  let n = 0;
  if (o + 3 > end) throw cannotDecode(EXCHANGE_DECLARE, buf, off, end);
  const f_ticket = (buf[o]! << 8) | buf[o + 1]!;
  n = buf[o + 2]!;
  o += 3;
  if (o + n + 1 > end) throw cannotDecode(EXCHANGE_DECLARE, buf, off, end);
  const f_exchange = shortstrAt(EXCHANGE_DECLARE, buf, o, n);
  o += n;
  n = buf[o]!;
  o += 1;
  if (o + n + 1 > end) throw cannotDecode(EXCHANGE_DECLARE, buf, off, end);
  const f_type = shortstrAt(EXCHANGE_DECLARE, buf, o, n);
  o += n;
  const bits0 = buf[o]!;
  const f_passive = (bits0 & 1) !== 0;
  const f_durable = (bits0 & 2) !== 0;
  const f_autoDelete = (bits0 & 4) !== 0;
  const f_internal = (bits0 & 8) !== 0;
  const f_nowait = (bits0 & 16) !== 0;
  o += 1;
  const f_arguments = tableAt(EXCHANGE_DECLARE, buf, o, off, end);
  o = lastTableEnd;
  if (o !== end) throw cannotDecode(EXCHANGE_DECLARE, buf, off, end);
  return { ticket: f_ticket, exchange: f_exchange, type: f_type, passive: f_passive, durable: f_durable, autoDelete: f_autoDelete, internal: f_internal, nowait: f_nowait, arguments: f_arguments };
}

export function decodeExchangeDeclareOk(buf: Buffer, off: number, end: number): ExchangeDeclareOk {
  if (off !== end) throw cannotDecode(EXCHANGE_DECLARE_OK, buf, off, end);
  return {};
}

export function decodeExchangeDelete(buf: Buffer, off: number, end: number): ExchangeDelete {
  let o = off;
  let n = 0;
  if (o + 3 > end) throw cannotDecode(EXCHANGE_DELETE, buf, off, end);
  const f_ticket = (buf[o]! << 8) | buf[o + 1]!;
  n = buf[o + 2]!;
  o += 3;
  if (o + n + 1 > end) throw cannotDecode(EXCHANGE_DELETE, buf, off, end);
  const f_exchange = shortstrAt(EXCHANGE_DELETE, buf, o, n);
  o += n;
  const bits0 = buf[o]!;
  const f_ifUnused = (bits0 & 1) !== 0;
  const f_nowait = (bits0 & 2) !== 0;
  o += 1;
  if (o !== end) throw cannotDecode(EXCHANGE_DELETE, buf, off, end);
  return { ticket: f_ticket, exchange: f_exchange, ifUnused: f_ifUnused, nowait: f_nowait };
}

export function decodeExchangeDeleteOk(buf: Buffer, off: number, end: number): ExchangeDeleteOk {
  if (off !== end) throw cannotDecode(EXCHANGE_DELETE_OK, buf, off, end);
  return {};
}

export function decodeExchangeBind(buf: Buffer, off: number, end: number): ExchangeBind {
  let o = off;
  let n = 0;
  if (o + 3 > end) throw cannotDecode(EXCHANGE_BIND, buf, off, end);
  const f_ticket = (buf[o]! << 8) | buf[o + 1]!;
  n = buf[o + 2]!;
  o += 3;
  if (o + n + 1 > end) throw cannotDecode(EXCHANGE_BIND, buf, off, end);
  const f_destination = shortstrAt(EXCHANGE_BIND, buf, o, n);
  o += n;
  n = buf[o]!;
  o += 1;
  if (o + n + 1 > end) throw cannotDecode(EXCHANGE_BIND, buf, off, end);
  const f_source = shortstrAt(EXCHANGE_BIND, buf, o, n);
  o += n;
  n = buf[o]!;
  o += 1;
  if (o + n + 1 > end) throw cannotDecode(EXCHANGE_BIND, buf, off, end);
  const f_routingKey = shortstrAt(EXCHANGE_BIND, buf, o, n);
  o += n;
  const bits0 = buf[o]!;
  const f_nowait = (bits0 & 1) !== 0;
  o += 1;
  const f_arguments = tableAt(EXCHANGE_BIND, buf, o, off, end);
  o = lastTableEnd;
  if (o !== end) throw cannotDecode(EXCHANGE_BIND, buf, off, end);
  return { ticket: f_ticket, destination: f_destination, source: f_source, routingKey: f_routingKey, nowait: f_nowait, arguments: f_arguments };
}

export function decodeExchangeBindOk(buf: Buffer, off: number, end: number): ExchangeBindOk {
  if (off !== end) throw cannotDecode(EXCHANGE_BIND_OK, buf, off, end);
  return {};
}

export function decodeExchangeUnbind(buf: Buffer, off: number, end: number): ExchangeUnbind {
  let o = off;
  let n = 0;
  if (o + 3 > end) throw cannotDecode(EXCHANGE_UNBIND, buf, off, end);
  const f_ticket = (buf[o]! << 8) | buf[o + 1]!;
  n = buf[o + 2]!;
  o += 3;
  if (o + n + 1 > end) throw cannotDecode(EXCHANGE_UNBIND, buf, off, end);
  const f_destination = shortstrAt(EXCHANGE_UNBIND, buf, o, n);
  o += n;
  n = buf[o]!;
  o += 1;
  if (o + n + 1 > end) throw cannotDecode(EXCHANGE_UNBIND, buf, off, end);
  const f_source = shortstrAt(EXCHANGE_UNBIND, buf, o, n);
  o += n;
  n = buf[o]!;
  o += 1;
  if (o + n + 1 > end) throw cannotDecode(EXCHANGE_UNBIND, buf, off, end);
  const f_routingKey = shortstrAt(EXCHANGE_UNBIND, buf, o, n);
  o += n;
  const bits0 = buf[o]!;
  const f_nowait = (bits0 & 1) !== 0;
  o += 1;
  const f_arguments = tableAt(EXCHANGE_UNBIND, buf, o, off, end);
  o = lastTableEnd;
  if (o !== end) throw cannotDecode(EXCHANGE_UNBIND, buf, off, end);
  return { ticket: f_ticket, destination: f_destination, source: f_source, routingKey: f_routingKey, nowait: f_nowait, arguments: f_arguments };
}

export function decodeExchangeUnbindOk(buf: Buffer, off: number, end: number): ExchangeUnbindOk {
  if (off !== end) throw cannotDecode(EXCHANGE_UNBIND_OK, buf, off, end);
  return {};
}

export function decodeQueueDeclare(buf: Buffer, off: number, end: number): QueueDeclare {
  let o = off;
  let n = 0;
  if (o + 3 > end) throw cannotDecode(QUEUE_DECLARE, buf, off, end);
  const f_ticket = (buf[o]! << 8) | buf[o + 1]!;
  n = buf[o + 2]!;
  o += 3;
  if (o + n + 1 > end) throw cannotDecode(QUEUE_DECLARE, buf, off, end);
  const f_queue = shortstrAt(QUEUE_DECLARE, buf, o, n);
  o += n;
  const bits0 = buf[o]!;
  const f_passive = (bits0 & 1) !== 0;
  const f_durable = (bits0 & 2) !== 0;
  const f_exclusive = (bits0 & 4) !== 0;
  const f_autoDelete = (bits0 & 8) !== 0;
  const f_nowait = (bits0 & 16) !== 0;
  o += 1;
  const f_arguments = tableAt(QUEUE_DECLARE, buf, o, off, end);
  o = lastTableEnd;
  if (o !== end) throw cannotDecode(QUEUE_DECLARE, buf, off, end);
  return { ticket: f_ticket, queue: f_queue, passive: f_passive, durable: f_durable, exclusive: f_exclusive, autoDelete: f_autoDelete, nowait: f_nowait, arguments: f_arguments };
}

export function decodeQueueDeclareOk(buf: Buffer, off: number, end: number): QueueDeclareOk {
  let o = off;
  let n = 0;
  if (o + 1 > end) throw cannotDecode(QUEUE_DECLARE_OK, buf, off, end);
  n = buf[o]!;
  o += 1;
  if (o + n + 8 > end) throw cannotDecode(QUEUE_DECLARE_OK, buf, off, end);
  const f_queue = shortstrAt(QUEUE_DECLARE_OK, buf, o, n);
  o += n;
  const f_messageCount = buf.readUInt32BE(o);
  const f_consumerCount = buf.readUInt32BE(o + 4);
  o += 8;
  if (o !== end) throw cannotDecode(QUEUE_DECLARE_OK, buf, off, end);
  return { queue: f_queue, messageCount: f_messageCount, consumerCount: f_consumerCount };
}

export function decodeQueueBind(buf: Buffer, off: number, end: number): QueueBind {
  let o = off;
  let n = 0;
  if (o + 3 > end) throw cannotDecode(QUEUE_BIND, buf, off, end);
  const f_ticket = (buf[o]! << 8) | buf[o + 1]!;
  n = buf[o + 2]!;
  o += 3;
  if (o + n + 1 > end) throw cannotDecode(QUEUE_BIND, buf, off, end);
  const f_queue = shortstrAt(QUEUE_BIND, buf, o, n);
  o += n;
  n = buf[o]!;
  o += 1;
  if (o + n + 1 > end) throw cannotDecode(QUEUE_BIND, buf, off, end);
  const f_exchange = shortstrAt(QUEUE_BIND, buf, o, n);
  o += n;
  n = buf[o]!;
  o += 1;
  if (o + n + 1 > end) throw cannotDecode(QUEUE_BIND, buf, off, end);
  const f_routingKey = shortstrAt(QUEUE_BIND, buf, o, n);
  o += n;
  const bits0 = buf[o]!;
  const f_nowait = (bits0 & 1) !== 0;
  o += 1;
  const f_arguments = tableAt(QUEUE_BIND, buf, o, off, end);
  o = lastTableEnd;
  if (o !== end) throw cannotDecode(QUEUE_BIND, buf, off, end);
  return { ticket: f_ticket, queue: f_queue, exchange: f_exchange, routingKey: f_routingKey, nowait: f_nowait, arguments: f_arguments };
}

export function decodeQueueBindOk(buf: Buffer, off: number, end: number): QueueBindOk {
  if (off !== end) throw cannotDecode(QUEUE_BIND_OK, buf, off, end);
  return {};
}

export function decodeQueuePurge(buf: Buffer, off: number, end: number): QueuePurge {
  let o = off;
  let n = 0;
  if (o + 3 > end) throw cannotDecode(QUEUE_PURGE, buf, off, end);
  const f_ticket = (buf[o]! << 8) | buf[o + 1]!;
  n = buf[o + 2]!;
  o += 3;
  if (o + n + 1 > end) throw cannotDecode(QUEUE_PURGE, buf, off, end);
  const f_queue = shortstrAt(QUEUE_PURGE, buf, o, n);
  o += n;
  const bits0 = buf[o]!;
  const f_nowait = (bits0 & 1) !== 0;
  o += 1;
  if (o !== end) throw cannotDecode(QUEUE_PURGE, buf, off, end);
  return { ticket: f_ticket, queue: f_queue, nowait: f_nowait };
}

export function decodeQueuePurgeOk(buf: Buffer, off: number, end: number): QueuePurgeOk {
  let o = off;
  if (o + 4 > end) throw cannotDecode(QUEUE_PURGE_OK, buf, off, end);
  const f_messageCount = buf.readUInt32BE(o);
  o += 4;
  if (o !== end) throw cannotDecode(QUEUE_PURGE_OK, buf, off, end);
  return { messageCount: f_messageCount };
}

export function decodeQueueDelete(buf: Buffer, off: number, end: number): QueueDelete {
  let o = off;
  let n = 0;
  if (o + 3 > end) throw cannotDecode(QUEUE_DELETE, buf, off, end);
  const f_ticket = (buf[o]! << 8) | buf[o + 1]!;
  n = buf[o + 2]!;
  o += 3;
  if (o + n + 1 > end) throw cannotDecode(QUEUE_DELETE, buf, off, end);
  const f_queue = shortstrAt(QUEUE_DELETE, buf, o, n);
  o += n;
  const bits0 = buf[o]!;
  const f_ifUnused = (bits0 & 1) !== 0;
  const f_ifEmpty = (bits0 & 2) !== 0;
  const f_nowait = (bits0 & 4) !== 0;
  o += 1;
  if (o !== end) throw cannotDecode(QUEUE_DELETE, buf, off, end);
  return { ticket: f_ticket, queue: f_queue, ifUnused: f_ifUnused, ifEmpty: f_ifEmpty, nowait: f_nowait };
}

export function decodeQueueDeleteOk(buf: Buffer, off: number, end: number): QueueDeleteOk {
  let o = off;
  if (o + 4 > end) throw cannotDecode(QUEUE_DELETE_OK, buf, off, end);
  const f_messageCount = buf.readUInt32BE(o);
  o += 4;
  if (o !== end) throw cannotDecode(QUEUE_DELETE_OK, buf, off, end);
  return { messageCount: f_messageCount };
}

export function decodeQueueUnbind(buf: Buffer, off: number, end: number): QueueUnbind {
  let o = off;
  let n = 0;
  if (o + 3 > end) throw cannotDecode(QUEUE_UNBIND, buf, off, end);
  const f_ticket = (buf[o]! << 8) | buf[o + 1]!;
  n = buf[o + 2]!;
  o += 3;
  if (o + n + 1 > end) throw cannotDecode(QUEUE_UNBIND, buf, off, end);
  const f_queue = shortstrAt(QUEUE_UNBIND, buf, o, n);
  o += n;
  n = buf[o]!;
  o += 1;
  if (o + n + 1 > end) throw cannotDecode(QUEUE_UNBIND, buf, off, end);
  const f_exchange = shortstrAt(QUEUE_UNBIND, buf, o, n);
  o += n;
  n = buf[o]!;
  o += 1;
  if (o + n > end) throw cannotDecode(QUEUE_UNBIND, buf, off, end);
  const f_routingKey = shortstrAt(QUEUE_UNBIND, buf, o, n);
  o += n;
  const f_arguments = tableAt(QUEUE_UNBIND, buf, o, off, end);
  o = lastTableEnd;
  if (o !== end) throw cannotDecode(QUEUE_UNBIND, buf, off, end);
  return { ticket: f_ticket, queue: f_queue, exchange: f_exchange, routingKey: f_routingKey, arguments: f_arguments };
}

export function decodeQueueUnbindOk(buf: Buffer, off: number, end: number): QueueUnbindOk {
  if (off !== end) throw cannotDecode(QUEUE_UNBIND_OK, buf, off, end);
  return {};
}

export function decodeTxSelect(buf: Buffer, off: number, end: number): TxSelect {
  if (off !== end) throw cannotDecode(TX_SELECT, buf, off, end);
  return {};
}

export function decodeTxSelectOk(buf: Buffer, off: number, end: number): TxSelectOk {
  if (off !== end) throw cannotDecode(TX_SELECT_OK, buf, off, end);
  return {};
}

export function decodeTxCommit(buf: Buffer, off: number, end: number): TxCommit {
  if (off !== end) throw cannotDecode(TX_COMMIT, buf, off, end);
  return {};
}

export function decodeTxCommitOk(buf: Buffer, off: number, end: number): TxCommitOk {
  if (off !== end) throw cannotDecode(TX_COMMIT_OK, buf, off, end);
  return {};
}

export function decodeTxRollback(buf: Buffer, off: number, end: number): TxRollback {
  if (off !== end) throw cannotDecode(TX_ROLLBACK, buf, off, end);
  return {};
}

export function decodeTxRollbackOk(buf: Buffer, off: number, end: number): TxRollbackOk {
  if (off !== end) throw cannotDecode(TX_ROLLBACK_OK, buf, off, end);
  return {};
}

export function decodeConfirmSelect(buf: Buffer, off: number, end: number): ConfirmSelect {
  let o = off;
  if (o + 1 > end) throw cannotDecode(CONFIRM_SELECT, buf, off, end);
  const bits0 = buf[o]!;
  const f_nowait = (bits0 & 1) !== 0;
  o += 1;
  if (o !== end) throw cannotDecode(CONFIRM_SELECT, buf, off, end);
  return { nowait: f_nowait };
}

export function decodeConfirmSelectOk(buf: Buffer, off: number, end: number): ConfirmSelectOk {
  if (off !== end) throw cannotDecode(CONFIRM_SELECT_OK, buf, off, end);
  return {};
}

/**
 * Decodes the arguments of method `id` from buf[off, end) (off is just after
 * the class-id and method-id). Throws AmqpError FRAME_ERROR on malformed
 * arguments, COMMAND_INVALID on an unknown id. The result is MethodArgsMap[id].
 */
export function decodeMethod(id: number, buf: Buffer, off: number, end: number): unknown {
  switch (id) {
    case BASIC_QOS:
      return decodeBasicQos(buf, off, end);
    case BASIC_QOS_OK:
      return decodeBasicQosOk(buf, off, end);
    case BASIC_CONSUME:
      return decodeBasicConsume(buf, off, end);
    case BASIC_CONSUME_OK:
      return decodeBasicConsumeOk(buf, off, end);
    case BASIC_CANCEL:
      return decodeBasicCancel(buf, off, end);
    case BASIC_CANCEL_OK:
      return decodeBasicCancelOk(buf, off, end);
    case BASIC_PUBLISH:
      return decodeBasicPublish(buf, off, end);
    case BASIC_RETURN:
      return decodeBasicReturn(buf, off, end);
    case BASIC_DELIVER:
      return decodeBasicDeliver(buf, off, end);
    case BASIC_GET:
      return decodeBasicGet(buf, off, end);
    case BASIC_GET_OK:
      return decodeBasicGetOk(buf, off, end);
    case BASIC_GET_EMPTY:
      return decodeBasicGetEmpty(buf, off, end);
    case BASIC_ACK:
      return decodeBasicAck(buf, off, end);
    case BASIC_REJECT:
      return decodeBasicReject(buf, off, end);
    case BASIC_RECOVER_ASYNC:
      return decodeBasicRecoverAsync(buf, off, end);
    case BASIC_RECOVER:
      return decodeBasicRecover(buf, off, end);
    case BASIC_RECOVER_OK:
      return decodeBasicRecoverOk(buf, off, end);
    case BASIC_NACK:
      return decodeBasicNack(buf, off, end);
    case CONNECTION_START:
      return decodeConnectionStart(buf, off, end);
    case CONNECTION_START_OK:
      return decodeConnectionStartOk(buf, off, end);
    case CONNECTION_SECURE:
      return decodeConnectionSecure(buf, off, end);
    case CONNECTION_SECURE_OK:
      return decodeConnectionSecureOk(buf, off, end);
    case CONNECTION_TUNE:
      return decodeConnectionTune(buf, off, end);
    case CONNECTION_TUNE_OK:
      return decodeConnectionTuneOk(buf, off, end);
    case CONNECTION_OPEN:
      return decodeConnectionOpen(buf, off, end);
    case CONNECTION_OPEN_OK:
      return decodeConnectionOpenOk(buf, off, end);
    case CONNECTION_CLOSE:
      return decodeConnectionClose(buf, off, end);
    case CONNECTION_CLOSE_OK:
      return decodeConnectionCloseOk(buf, off, end);
    case CONNECTION_BLOCKED:
      return decodeConnectionBlocked(buf, off, end);
    case CONNECTION_UNBLOCKED:
      return decodeConnectionUnblocked(buf, off, end);
    case CONNECTION_UPDATE_SECRET:
      return decodeConnectionUpdateSecret(buf, off, end);
    case CONNECTION_UPDATE_SECRET_OK:
      return decodeConnectionUpdateSecretOk(buf, off, end);
    case CHANNEL_OPEN:
      return decodeChannelOpen(buf, off, end);
    case CHANNEL_OPEN_OK:
      return decodeChannelOpenOk(buf, off, end);
    case CHANNEL_FLOW:
      return decodeChannelFlow(buf, off, end);
    case CHANNEL_FLOW_OK:
      return decodeChannelFlowOk(buf, off, end);
    case CHANNEL_CLOSE:
      return decodeChannelClose(buf, off, end);
    case CHANNEL_CLOSE_OK:
      return decodeChannelCloseOk(buf, off, end);
    case ACCESS_REQUEST:
      return decodeAccessRequest(buf, off, end);
    case ACCESS_REQUEST_OK:
      return decodeAccessRequestOk(buf, off, end);
    case EXCHANGE_DECLARE:
      return decodeExchangeDeclare(buf, off, end);
    case EXCHANGE_DECLARE_OK:
      return decodeExchangeDeclareOk(buf, off, end);
    case EXCHANGE_DELETE:
      return decodeExchangeDelete(buf, off, end);
    case EXCHANGE_DELETE_OK:
      return decodeExchangeDeleteOk(buf, off, end);
    case EXCHANGE_BIND:
      return decodeExchangeBind(buf, off, end);
    case EXCHANGE_BIND_OK:
      return decodeExchangeBindOk(buf, off, end);
    case EXCHANGE_UNBIND:
      return decodeExchangeUnbind(buf, off, end);
    case EXCHANGE_UNBIND_OK:
      return decodeExchangeUnbindOk(buf, off, end);
    case QUEUE_DECLARE:
      return decodeQueueDeclare(buf, off, end);
    case QUEUE_DECLARE_OK:
      return decodeQueueDeclareOk(buf, off, end);
    case QUEUE_BIND:
      return decodeQueueBind(buf, off, end);
    case QUEUE_BIND_OK:
      return decodeQueueBindOk(buf, off, end);
    case QUEUE_PURGE:
      return decodeQueuePurge(buf, off, end);
    case QUEUE_PURGE_OK:
      return decodeQueuePurgeOk(buf, off, end);
    case QUEUE_DELETE:
      return decodeQueueDelete(buf, off, end);
    case QUEUE_DELETE_OK:
      return decodeQueueDeleteOk(buf, off, end);
    case QUEUE_UNBIND:
      return decodeQueueUnbind(buf, off, end);
    case QUEUE_UNBIND_OK:
      return decodeQueueUnbindOk(buf, off, end);
    case TX_SELECT:
      return decodeTxSelect(buf, off, end);
    case TX_SELECT_OK:
      return decodeTxSelectOk(buf, off, end);
    case TX_COMMIT:
      return decodeTxCommit(buf, off, end);
    case TX_COMMIT_OK:
      return decodeTxCommitOk(buf, off, end);
    case TX_ROLLBACK:
      return decodeTxRollback(buf, off, end);
    case TX_ROLLBACK_OK:
      return decodeTxRollbackOk(buf, off, end);
    case CONFIRM_SELECT:
      return decodeConfirmSelect(buf, off, end);
    case CONFIRM_SELECT_OK:
      return decodeConfirmSelectOk(buf, off, end);
    default:
      throw new AmqpError(COMMAND_INVALID, `unknown method class ${id >>> 16} method ${id & 0xffff}`, id >>> 16, id & 0xffff, true);
  }
}

// ---- encoders
export function encodeBasicQosFrame(channel: number, a: Partial<BasicQos> = {}): Buffer {
  const size = 19;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(BASIC_QOS, 7);
  let o = 11;
  buf.writeUInt32BE(a.prefetchSize ?? 0, o);
  o += 4;
  buf.writeUInt16BE(a.prefetchCount ?? 0, o);
  o += 2;
  buf[o] = ((a.global ?? false) ? 1 : 0);
  o += 1;
  buf[o] = 0xce;
  return buf;
}

export function encodeBasicQosOkFrame(channel: number, _a: Partial<BasicQosOk> = {}): Buffer {
  const size = 12;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(BASIC_QOS_OK, 7);
  buf[11] = 0xce;
  return buf;
}

export function encodeBasicConsumeFrame(channel: number, a: Partial<BasicConsume> = {}): Buffer {
  const v_queue = a.queue ?? "";
  const v_queueLen = Buffer.byteLength(v_queue);
  if (v_queueLen > 255) throw shortstrTooLong("basic.consume", "queue", v_queueLen);
  const v_consumerTag = a.consumerTag ?? "";
  const v_consumerTagLen = Buffer.byteLength(v_consumerTag);
  if (v_consumerTagLen > 255) throw shortstrTooLong("basic.consume", "consumer-tag", v_consumerTagLen);
  const v_arguments = a.arguments;
  const v_argumentsSize = encodedTableSize(v_arguments);
  const size = 17 + v_queueLen + v_consumerTagLen + v_argumentsSize;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(BASIC_CONSUME, 7);
  let o = 11;
  buf.writeUInt16BE(a.ticket ?? 0, o);
  o += 2;
  buf[o] = v_queueLen;
  buf.write(v_queue, o + 1, "utf8");
  o += 1 + v_queueLen;
  buf[o] = v_consumerTagLen;
  buf.write(v_consumerTag, o + 1, "utf8");
  o += 1 + v_consumerTagLen;
  buf[o] = ((a.noLocal ?? false) ? 1 : 0) | ((a.noAck ?? false) ? 2 : 0) | ((a.exclusive ?? false) ? 4 : 0) | ((a.nowait ?? false) ? 8 : 0);
  o += 1;
  o = writeTable(buf, o, v_arguments);
  buf[o] = 0xce;
  return buf;
}

export function encodeBasicConsumeOkFrame(channel: number, a: Partial<BasicConsumeOk> = {}): Buffer {
  const v_consumerTag = a.consumerTag ?? "";
  const v_consumerTagLen = Buffer.byteLength(v_consumerTag);
  if (v_consumerTagLen > 255) throw shortstrTooLong("basic.consume-ok", "consumer-tag", v_consumerTagLen);
  const size = 13 + v_consumerTagLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(BASIC_CONSUME_OK, 7);
  let o = 11;
  buf[o] = v_consumerTagLen;
  buf.write(v_consumerTag, o + 1, "utf8");
  o += 1 + v_consumerTagLen;
  buf[o] = 0xce;
  return buf;
}

export function encodeBasicCancelFrame(channel: number, a: Partial<BasicCancel> = {}): Buffer {
  const v_consumerTag = a.consumerTag ?? "";
  const v_consumerTagLen = Buffer.byteLength(v_consumerTag);
  if (v_consumerTagLen > 255) throw shortstrTooLong("basic.cancel", "consumer-tag", v_consumerTagLen);
  const size = 14 + v_consumerTagLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(BASIC_CANCEL, 7);
  let o = 11;
  buf[o] = v_consumerTagLen;
  buf.write(v_consumerTag, o + 1, "utf8");
  o += 1 + v_consumerTagLen;
  buf[o] = ((a.nowait ?? false) ? 1 : 0);
  o += 1;
  buf[o] = 0xce;
  return buf;
}

export function encodeBasicCancelOkFrame(channel: number, a: Partial<BasicCancelOk> = {}): Buffer {
  const v_consumerTag = a.consumerTag ?? "";
  const v_consumerTagLen = Buffer.byteLength(v_consumerTag);
  if (v_consumerTagLen > 255) throw shortstrTooLong("basic.cancel-ok", "consumer-tag", v_consumerTagLen);
  const size = 13 + v_consumerTagLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(BASIC_CANCEL_OK, 7);
  let o = 11;
  buf[o] = v_consumerTagLen;
  buf.write(v_consumerTag, o + 1, "utf8");
  o += 1 + v_consumerTagLen;
  buf[o] = 0xce;
  return buf;
}

export function encodeBasicPublishFrame(channel: number, a: Partial<BasicPublish> = {}): Buffer {
  const v_exchange = a.exchange ?? "";
  const v_exchangeLen = Buffer.byteLength(v_exchange);
  if (v_exchangeLen > 255) throw shortstrTooLong("basic.publish", "exchange", v_exchangeLen);
  const v_routingKey = a.routingKey ?? "";
  const v_routingKeyLen = Buffer.byteLength(v_routingKey);
  if (v_routingKeyLen > 255) throw shortstrTooLong("basic.publish", "routing-key", v_routingKeyLen);
  const size = 17 + v_exchangeLen + v_routingKeyLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(BASIC_PUBLISH, 7);
  let o = 11;
  buf.writeUInt16BE(a.ticket ?? 0, o);
  o += 2;
  buf[o] = v_exchangeLen;
  buf.write(v_exchange, o + 1, "utf8");
  o += 1 + v_exchangeLen;
  buf[o] = v_routingKeyLen;
  buf.write(v_routingKey, o + 1, "utf8");
  o += 1 + v_routingKeyLen;
  buf[o] = ((a.mandatory ?? false) ? 1 : 0) | ((a.immediate ?? false) ? 2 : 0);
  o += 1;
  buf[o] = 0xce;
  return buf;
}

export function encodeBasicReturnFrame(channel: number, a: Partial<BasicReturn> = {}): Buffer {
  const v_replyText = a.replyText ?? "";
  const v_replyTextLen = Buffer.byteLength(v_replyText);
  if (v_replyTextLen > 255) throw shortstrTooLong("basic.return", "reply-text", v_replyTextLen);
  const v_exchange = a.exchange ?? "";
  const v_exchangeLen = Buffer.byteLength(v_exchange);
  if (v_exchangeLen > 255) throw shortstrTooLong("basic.return", "exchange", v_exchangeLen);
  const v_routingKey = a.routingKey ?? "";
  const v_routingKeyLen = Buffer.byteLength(v_routingKey);
  if (v_routingKeyLen > 255) throw shortstrTooLong("basic.return", "routing-key", v_routingKeyLen);
  const size = 17 + v_replyTextLen + v_exchangeLen + v_routingKeyLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(BASIC_RETURN, 7);
  let o = 11;
  buf.writeUInt16BE(a.replyCode ?? 0, o);
  o += 2;
  buf[o] = v_replyTextLen;
  buf.write(v_replyText, o + 1, "utf8");
  o += 1 + v_replyTextLen;
  buf[o] = v_exchangeLen;
  buf.write(v_exchange, o + 1, "utf8");
  o += 1 + v_exchangeLen;
  buf[o] = v_routingKeyLen;
  buf.write(v_routingKey, o + 1, "utf8");
  o += 1 + v_routingKeyLen;
  buf[o] = 0xce;
  return buf;
}

export function encodeBasicDeliverFrame(channel: number, a: Partial<BasicDeliver> = {}): Buffer {
  const v_consumerTag = a.consumerTag ?? "";
  const v_consumerTagLen = Buffer.byteLength(v_consumerTag);
  if (v_consumerTagLen > 255) throw shortstrTooLong("basic.deliver", "consumer-tag", v_consumerTagLen);
  const v_deliveryTag = a.deliveryTag ?? 0;
  const v_exchange = a.exchange ?? "";
  const v_exchangeLen = Buffer.byteLength(v_exchange);
  if (v_exchangeLen > 255) throw shortstrTooLong("basic.deliver", "exchange", v_exchangeLen);
  const v_routingKey = a.routingKey ?? "";
  const v_routingKeyLen = Buffer.byteLength(v_routingKey);
  if (v_routingKeyLen > 255) throw shortstrTooLong("basic.deliver", "routing-key", v_routingKeyLen);
  const size = 24 + v_consumerTagLen + v_exchangeLen + v_routingKeyLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(BASIC_DELIVER, 7);
  let o = 11;
  buf[o] = v_consumerTagLen;
  buf.write(v_consumerTag, o + 1, "utf8");
  o += 1 + v_consumerTagLen;
  buf.writeUInt32BE(Math.floor(v_deliveryTag / 0x100000000), o);
  buf.writeUInt32BE(v_deliveryTag >>> 0, o + 4);
  o += 8;
  buf[o] = ((a.redelivered ?? false) ? 1 : 0);
  o += 1;
  buf[o] = v_exchangeLen;
  buf.write(v_exchange, o + 1, "utf8");
  o += 1 + v_exchangeLen;
  buf[o] = v_routingKeyLen;
  buf.write(v_routingKey, o + 1, "utf8");
  o += 1 + v_routingKeyLen;
  buf[o] = 0xce;
  return buf;
}

export function encodeBasicGetFrame(channel: number, a: Partial<BasicGet> = {}): Buffer {
  const v_queue = a.queue ?? "";
  const v_queueLen = Buffer.byteLength(v_queue);
  if (v_queueLen > 255) throw shortstrTooLong("basic.get", "queue", v_queueLen);
  const size = 16 + v_queueLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(BASIC_GET, 7);
  let o = 11;
  buf.writeUInt16BE(a.ticket ?? 0, o);
  o += 2;
  buf[o] = v_queueLen;
  buf.write(v_queue, o + 1, "utf8");
  o += 1 + v_queueLen;
  buf[o] = ((a.noAck ?? false) ? 1 : 0);
  o += 1;
  buf[o] = 0xce;
  return buf;
}

export function encodeBasicGetOkFrame(channel: number, a: Partial<BasicGetOk> = {}): Buffer {
  const v_deliveryTag = a.deliveryTag ?? 0;
  const v_exchange = a.exchange ?? "";
  const v_exchangeLen = Buffer.byteLength(v_exchange);
  if (v_exchangeLen > 255) throw shortstrTooLong("basic.get-ok", "exchange", v_exchangeLen);
  const v_routingKey = a.routingKey ?? "";
  const v_routingKeyLen = Buffer.byteLength(v_routingKey);
  if (v_routingKeyLen > 255) throw shortstrTooLong("basic.get-ok", "routing-key", v_routingKeyLen);
  const size = 27 + v_exchangeLen + v_routingKeyLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(BASIC_GET_OK, 7);
  let o = 11;
  buf.writeUInt32BE(Math.floor(v_deliveryTag / 0x100000000), o);
  buf.writeUInt32BE(v_deliveryTag >>> 0, o + 4);
  o += 8;
  buf[o] = ((a.redelivered ?? false) ? 1 : 0);
  o += 1;
  buf[o] = v_exchangeLen;
  buf.write(v_exchange, o + 1, "utf8");
  o += 1 + v_exchangeLen;
  buf[o] = v_routingKeyLen;
  buf.write(v_routingKey, o + 1, "utf8");
  o += 1 + v_routingKeyLen;
  buf.writeUInt32BE(a.messageCount ?? 0, o);
  o += 4;
  buf[o] = 0xce;
  return buf;
}

export function encodeBasicGetEmptyFrame(channel: number, a: Partial<BasicGetEmpty> = {}): Buffer {
  const v_clusterId = a.clusterId ?? "";
  const v_clusterIdLen = Buffer.byteLength(v_clusterId);
  if (v_clusterIdLen > 255) throw shortstrTooLong("basic.get-empty", "cluster-id", v_clusterIdLen);
  const size = 13 + v_clusterIdLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(BASIC_GET_EMPTY, 7);
  let o = 11;
  buf[o] = v_clusterIdLen;
  buf.write(v_clusterId, o + 1, "utf8");
  o += 1 + v_clusterIdLen;
  buf[o] = 0xce;
  return buf;
}

export function encodeBasicAckFrame(channel: number, a: Partial<BasicAck> = {}): Buffer {
  const v_deliveryTag = a.deliveryTag ?? 0;
  const size = 21;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(BASIC_ACK, 7);
  let o = 11;
  buf.writeUInt32BE(Math.floor(v_deliveryTag / 0x100000000), o);
  buf.writeUInt32BE(v_deliveryTag >>> 0, o + 4);
  o += 8;
  buf[o] = ((a.multiple ?? false) ? 1 : 0);
  o += 1;
  buf[o] = 0xce;
  return buf;
}

export function encodeBasicRejectFrame(channel: number, a: Partial<BasicReject> = {}): Buffer {
  const v_deliveryTag = a.deliveryTag ?? 0;
  const size = 21;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(BASIC_REJECT, 7);
  let o = 11;
  buf.writeUInt32BE(Math.floor(v_deliveryTag / 0x100000000), o);
  buf.writeUInt32BE(v_deliveryTag >>> 0, o + 4);
  o += 8;
  buf[o] = ((a.requeue ?? true) ? 1 : 0);
  o += 1;
  buf[o] = 0xce;
  return buf;
}

export function encodeBasicRecoverAsyncFrame(channel: number, a: Partial<BasicRecoverAsync> = {}): Buffer {
  const size = 13;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(BASIC_RECOVER_ASYNC, 7);
  let o = 11;
  buf[o] = ((a.requeue ?? false) ? 1 : 0);
  o += 1;
  buf[o] = 0xce;
  return buf;
}

export function encodeBasicRecoverFrame(channel: number, a: Partial<BasicRecover> = {}): Buffer {
  const size = 13;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(BASIC_RECOVER, 7);
  let o = 11;
  buf[o] = ((a.requeue ?? false) ? 1 : 0);
  o += 1;
  buf[o] = 0xce;
  return buf;
}

export function encodeBasicRecoverOkFrame(channel: number, _a: Partial<BasicRecoverOk> = {}): Buffer {
  const size = 12;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(BASIC_RECOVER_OK, 7);
  buf[11] = 0xce;
  return buf;
}

export function encodeBasicNackFrame(channel: number, a: Partial<BasicNack> = {}): Buffer {
  const v_deliveryTag = a.deliveryTag ?? 0;
  const size = 21;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(BASIC_NACK, 7);
  let o = 11;
  buf.writeUInt32BE(Math.floor(v_deliveryTag / 0x100000000), o);
  buf.writeUInt32BE(v_deliveryTag >>> 0, o + 4);
  o += 8;
  buf[o] = ((a.multiple ?? false) ? 1 : 0) | ((a.requeue ?? true) ? 2 : 0);
  o += 1;
  buf[o] = 0xce;
  return buf;
}

export function encodeConnectionStartFrame(channel: number, a: Partial<ConnectionStart> = {}): Buffer {
  const v_serverProperties = a.serverProperties;
  const v_serverPropertiesSize = encodedTableSize(v_serverProperties);
  const v_mechanisms = a.mechanisms ?? "PLAIN";
  const v_mechanismsLen = Buffer.byteLength(v_mechanisms);
  const v_locales = a.locales ?? "en_US";
  const v_localesLen = Buffer.byteLength(v_locales);
  const size = 22 + v_serverPropertiesSize + v_mechanismsLen + v_localesLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(CONNECTION_START, 7);
  let o = 11;
  buf.writeUInt8(a.versionMajor ?? 0, o);
  o += 1;
  buf.writeUInt8(a.versionMinor ?? 9, o);
  o += 1;
  o = writeTable(buf, o, v_serverProperties);
  buf.writeUInt32BE(v_mechanismsLen, o);
  buf.write(v_mechanisms, o + 4, "utf8");
  o += 4 + v_mechanismsLen;
  buf.writeUInt32BE(v_localesLen, o);
  buf.write(v_locales, o + 4, "utf8");
  o += 4 + v_localesLen;
  buf[o] = 0xce;
  return buf;
}

export function encodeConnectionStartOkFrame(channel: number, a: Partial<ConnectionStartOk> = {}): Buffer {
  const v_clientProperties = a.clientProperties;
  const v_clientPropertiesSize = encodedTableSize(v_clientProperties);
  const v_mechanism = a.mechanism ?? "PLAIN";
  const v_mechanismLen = Buffer.byteLength(v_mechanism);
  if (v_mechanismLen > 255) throw shortstrTooLong("connection.start-ok", "mechanism", v_mechanismLen);
  const v_response = a.response ?? EMPTY_BYTES;
  const v_responseLen = v_response.length;
  const v_locale = a.locale ?? "en_US";
  const v_localeLen = Buffer.byteLength(v_locale);
  if (v_localeLen > 255) throw shortstrTooLong("connection.start-ok", "locale", v_localeLen);
  const size = 18 + v_clientPropertiesSize + v_mechanismLen + v_responseLen + v_localeLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(CONNECTION_START_OK, 7);
  let o = 11;
  o = writeTable(buf, o, v_clientProperties);
  buf[o] = v_mechanismLen;
  buf.write(v_mechanism, o + 1, "utf8");
  o += 1 + v_mechanismLen;
  buf.writeUInt32BE(v_responseLen, o);
  v_response.copy(buf, o + 4);
  o += 4 + v_responseLen;
  buf[o] = v_localeLen;
  buf.write(v_locale, o + 1, "utf8");
  o += 1 + v_localeLen;
  buf[o] = 0xce;
  return buf;
}

export function encodeConnectionSecureFrame(channel: number, a: Partial<ConnectionSecure> = {}): Buffer {
  const v_challenge = a.challenge ?? EMPTY_BYTES;
  const v_challengeLen = v_challenge.length;
  const size = 16 + v_challengeLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(CONNECTION_SECURE, 7);
  let o = 11;
  buf.writeUInt32BE(v_challengeLen, o);
  v_challenge.copy(buf, o + 4);
  o += 4 + v_challengeLen;
  buf[o] = 0xce;
  return buf;
}

export function encodeConnectionSecureOkFrame(channel: number, a: Partial<ConnectionSecureOk> = {}): Buffer {
  const v_response = a.response ?? EMPTY_BYTES;
  const v_responseLen = v_response.length;
  const size = 16 + v_responseLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(CONNECTION_SECURE_OK, 7);
  let o = 11;
  buf.writeUInt32BE(v_responseLen, o);
  v_response.copy(buf, o + 4);
  o += 4 + v_responseLen;
  buf[o] = 0xce;
  return buf;
}

export function encodeConnectionTuneFrame(channel: number, a: Partial<ConnectionTune> = {}): Buffer {
  const size = 20;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(CONNECTION_TUNE, 7);
  let o = 11;
  buf.writeUInt16BE(a.channelMax ?? 0, o);
  o += 2;
  buf.writeUInt32BE(a.frameMax ?? 0, o);
  o += 4;
  buf.writeUInt16BE(a.heartbeat ?? 0, o);
  o += 2;
  buf[o] = 0xce;
  return buf;
}

export function encodeConnectionTuneOkFrame(channel: number, a: Partial<ConnectionTuneOk> = {}): Buffer {
  const size = 20;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(CONNECTION_TUNE_OK, 7);
  let o = 11;
  buf.writeUInt16BE(a.channelMax ?? 0, o);
  o += 2;
  buf.writeUInt32BE(a.frameMax ?? 0, o);
  o += 4;
  buf.writeUInt16BE(a.heartbeat ?? 0, o);
  o += 2;
  buf[o] = 0xce;
  return buf;
}

export function encodeConnectionOpenFrame(channel: number, a: Partial<ConnectionOpen> = {}): Buffer {
  const v_virtualHost = a.virtualHost ?? "/";
  const v_virtualHostLen = Buffer.byteLength(v_virtualHost);
  if (v_virtualHostLen > 255) throw shortstrTooLong("connection.open", "virtual-host", v_virtualHostLen);
  const v_capabilities = a.capabilities ?? "";
  const v_capabilitiesLen = Buffer.byteLength(v_capabilities);
  if (v_capabilitiesLen > 255) throw shortstrTooLong("connection.open", "capabilities", v_capabilitiesLen);
  const size = 15 + v_virtualHostLen + v_capabilitiesLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(CONNECTION_OPEN, 7);
  let o = 11;
  buf[o] = v_virtualHostLen;
  buf.write(v_virtualHost, o + 1, "utf8");
  o += 1 + v_virtualHostLen;
  buf[o] = v_capabilitiesLen;
  buf.write(v_capabilities, o + 1, "utf8");
  o += 1 + v_capabilitiesLen;
  buf[o] = ((a.insist ?? false) ? 1 : 0);
  o += 1;
  buf[o] = 0xce;
  return buf;
}

export function encodeConnectionOpenOkFrame(channel: number, a: Partial<ConnectionOpenOk> = {}): Buffer {
  const v_knownHosts = a.knownHosts ?? "";
  const v_knownHostsLen = Buffer.byteLength(v_knownHosts);
  if (v_knownHostsLen > 255) throw shortstrTooLong("connection.open-ok", "known-hosts", v_knownHostsLen);
  const size = 13 + v_knownHostsLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(CONNECTION_OPEN_OK, 7);
  let o = 11;
  buf[o] = v_knownHostsLen;
  buf.write(v_knownHosts, o + 1, "utf8");
  o += 1 + v_knownHostsLen;
  buf[o] = 0xce;
  return buf;
}

export function encodeConnectionCloseFrame(channel: number, a: Partial<ConnectionClose> = {}): Buffer {
  const v_replyText = a.replyText ?? "";
  const v_replyTextLen = Buffer.byteLength(v_replyText);
  if (v_replyTextLen > 255) throw shortstrTooLong("connection.close", "reply-text", v_replyTextLen);
  const size = 19 + v_replyTextLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(CONNECTION_CLOSE, 7);
  let o = 11;
  buf.writeUInt16BE(a.replyCode ?? 0, o);
  o += 2;
  buf[o] = v_replyTextLen;
  buf.write(v_replyText, o + 1, "utf8");
  o += 1 + v_replyTextLen;
  buf.writeUInt16BE(a.classId ?? 0, o);
  o += 2;
  buf.writeUInt16BE(a.methodId ?? 0, o);
  o += 2;
  buf[o] = 0xce;
  return buf;
}

export function encodeConnectionCloseOkFrame(channel: number, _a: Partial<ConnectionCloseOk> = {}): Buffer {
  const size = 12;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(CONNECTION_CLOSE_OK, 7);
  buf[11] = 0xce;
  return buf;
}

export function encodeConnectionBlockedFrame(channel: number, a: Partial<ConnectionBlocked> = {}): Buffer {
  const v_reason = a.reason ?? "";
  const v_reasonLen = Buffer.byteLength(v_reason);
  if (v_reasonLen > 255) throw shortstrTooLong("connection.blocked", "reason", v_reasonLen);
  const size = 13 + v_reasonLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(CONNECTION_BLOCKED, 7);
  let o = 11;
  buf[o] = v_reasonLen;
  buf.write(v_reason, o + 1, "utf8");
  o += 1 + v_reasonLen;
  buf[o] = 0xce;
  return buf;
}

export function encodeConnectionUnblockedFrame(channel: number, _a: Partial<ConnectionUnblocked> = {}): Buffer {
  const size = 12;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(CONNECTION_UNBLOCKED, 7);
  buf[11] = 0xce;
  return buf;
}

export function encodeConnectionUpdateSecretFrame(channel: number, a: Partial<ConnectionUpdateSecret> = {}): Buffer {
  const v_newSecret = a.newSecret ?? EMPTY_BYTES;
  const v_newSecretLen = v_newSecret.length;
  const v_reason = a.reason ?? "";
  const v_reasonLen = Buffer.byteLength(v_reason);
  if (v_reasonLen > 255) throw shortstrTooLong("connection.update-secret", "reason", v_reasonLen);
  const size = 17 + v_newSecretLen + v_reasonLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(CONNECTION_UPDATE_SECRET, 7);
  let o = 11;
  buf.writeUInt32BE(v_newSecretLen, o);
  v_newSecret.copy(buf, o + 4);
  o += 4 + v_newSecretLen;
  buf[o] = v_reasonLen;
  buf.write(v_reason, o + 1, "utf8");
  o += 1 + v_reasonLen;
  buf[o] = 0xce;
  return buf;
}

export function encodeConnectionUpdateSecretOkFrame(channel: number, _a: Partial<ConnectionUpdateSecretOk> = {}): Buffer {
  const size = 12;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(CONNECTION_UPDATE_SECRET_OK, 7);
  buf[11] = 0xce;
  return buf;
}

export function encodeChannelOpenFrame(channel: number, a: Partial<ChannelOpen> = {}): Buffer {
  const v_outOfBand = a.outOfBand ?? "";
  const v_outOfBandLen = Buffer.byteLength(v_outOfBand);
  if (v_outOfBandLen > 255) throw shortstrTooLong("channel.open", "out-of-band", v_outOfBandLen);
  const size = 13 + v_outOfBandLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(CHANNEL_OPEN, 7);
  let o = 11;
  buf[o] = v_outOfBandLen;
  buf.write(v_outOfBand, o + 1, "utf8");
  o += 1 + v_outOfBandLen;
  buf[o] = 0xce;
  return buf;
}

export function encodeChannelOpenOkFrame(channel: number, a: Partial<ChannelOpenOk> = {}): Buffer {
  const v_channelId = a.channelId ?? "";
  const v_channelIdLen = Buffer.byteLength(v_channelId);
  const size = 16 + v_channelIdLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(CHANNEL_OPEN_OK, 7);
  let o = 11;
  buf.writeUInt32BE(v_channelIdLen, o);
  buf.write(v_channelId, o + 4, "utf8");
  o += 4 + v_channelIdLen;
  buf[o] = 0xce;
  return buf;
}

export function encodeChannelFlowFrame(channel: number, a: Partial<ChannelFlow> = {}): Buffer {
  const size = 13;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(CHANNEL_FLOW, 7);
  let o = 11;
  buf[o] = ((a.active ?? false) ? 1 : 0);
  o += 1;
  buf[o] = 0xce;
  return buf;
}

export function encodeChannelFlowOkFrame(channel: number, a: Partial<ChannelFlowOk> = {}): Buffer {
  const size = 13;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(CHANNEL_FLOW_OK, 7);
  let o = 11;
  buf[o] = ((a.active ?? false) ? 1 : 0);
  o += 1;
  buf[o] = 0xce;
  return buf;
}

export function encodeChannelCloseFrame(channel: number, a: Partial<ChannelClose> = {}): Buffer {
  const v_replyText = a.replyText ?? "";
  const v_replyTextLen = Buffer.byteLength(v_replyText);
  if (v_replyTextLen > 255) throw shortstrTooLong("channel.close", "reply-text", v_replyTextLen);
  const size = 19 + v_replyTextLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(CHANNEL_CLOSE, 7);
  let o = 11;
  buf.writeUInt16BE(a.replyCode ?? 0, o);
  o += 2;
  buf[o] = v_replyTextLen;
  buf.write(v_replyText, o + 1, "utf8");
  o += 1 + v_replyTextLen;
  buf.writeUInt16BE(a.classId ?? 0, o);
  o += 2;
  buf.writeUInt16BE(a.methodId ?? 0, o);
  o += 2;
  buf[o] = 0xce;
  return buf;
}

export function encodeChannelCloseOkFrame(channel: number, _a: Partial<ChannelCloseOk> = {}): Buffer {
  const size = 12;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(CHANNEL_CLOSE_OK, 7);
  buf[11] = 0xce;
  return buf;
}

export function encodeAccessRequestFrame(channel: number, a: Partial<AccessRequest> = {}): Buffer {
  const v_realm = a.realm ?? "/data";
  const v_realmLen = Buffer.byteLength(v_realm);
  if (v_realmLen > 255) throw shortstrTooLong("access.request", "realm", v_realmLen);
  const size = 14 + v_realmLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(ACCESS_REQUEST, 7);
  let o = 11;
  buf[o] = v_realmLen;
  buf.write(v_realm, o + 1, "utf8");
  o += 1 + v_realmLen;
  buf[o] = ((a.exclusive ?? false) ? 1 : 0) | ((a.passive ?? true) ? 2 : 0) | ((a.active ?? true) ? 4 : 0) | ((a.write ?? true) ? 8 : 0) | ((a.read ?? true) ? 16 : 0);
  o += 1;
  buf[o] = 0xce;
  return buf;
}

export function encodeAccessRequestOkFrame(channel: number, a: Partial<AccessRequestOk> = {}): Buffer {
  const size = 14;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(ACCESS_REQUEST_OK, 7);
  let o = 11;
  buf.writeUInt16BE(a.ticket ?? 1, o);
  o += 2;
  buf[o] = 0xce;
  return buf;
}

export function encodeExchangeDeclareFrame(channel: number, a: Partial<ExchangeDeclare> = {}): Buffer {
  const v_exchange = a.exchange ?? "";
  const v_exchangeLen = Buffer.byteLength(v_exchange);
  if (v_exchangeLen > 255) throw shortstrTooLong("exchange.declare", "exchange", v_exchangeLen);
  const v_type = a.type ?? "direct";
  const v_typeLen = Buffer.byteLength(v_type);
  if (v_typeLen > 255) throw shortstrTooLong("exchange.declare", "type", v_typeLen);
  const v_arguments = a.arguments;
  const v_argumentsSize = encodedTableSize(v_arguments);
  const size = 17 + v_exchangeLen + v_typeLen + v_argumentsSize;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(EXCHANGE_DECLARE, 7);
  let o = 11;
  buf.writeUInt16BE(a.ticket ?? 0, o);
  o += 2;
  buf[o] = v_exchangeLen;
  buf.write(v_exchange, o + 1, "utf8");
  o += 1 + v_exchangeLen;
  buf[o] = v_typeLen;
  buf.write(v_type, o + 1, "utf8");
  o += 1 + v_typeLen;
  buf[o] = ((a.passive ?? false) ? 1 : 0) | ((a.durable ?? false) ? 2 : 0) | ((a.autoDelete ?? false) ? 4 : 0) | ((a.internal ?? false) ? 8 : 0) | ((a.nowait ?? false) ? 16 : 0);
  o += 1;
  o = writeTable(buf, o, v_arguments);
  buf[o] = 0xce;
  return buf;
}

export function encodeExchangeDeclareOkFrame(channel: number, _a: Partial<ExchangeDeclareOk> = {}): Buffer {
  const size = 12;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(EXCHANGE_DECLARE_OK, 7);
  buf[11] = 0xce;
  return buf;
}

export function encodeExchangeDeleteFrame(channel: number, a: Partial<ExchangeDelete> = {}): Buffer {
  const v_exchange = a.exchange ?? "";
  const v_exchangeLen = Buffer.byteLength(v_exchange);
  if (v_exchangeLen > 255) throw shortstrTooLong("exchange.delete", "exchange", v_exchangeLen);
  const size = 16 + v_exchangeLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(EXCHANGE_DELETE, 7);
  let o = 11;
  buf.writeUInt16BE(a.ticket ?? 0, o);
  o += 2;
  buf[o] = v_exchangeLen;
  buf.write(v_exchange, o + 1, "utf8");
  o += 1 + v_exchangeLen;
  buf[o] = ((a.ifUnused ?? false) ? 1 : 0) | ((a.nowait ?? false) ? 2 : 0);
  o += 1;
  buf[o] = 0xce;
  return buf;
}

export function encodeExchangeDeleteOkFrame(channel: number, _a: Partial<ExchangeDeleteOk> = {}): Buffer {
  const size = 12;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(EXCHANGE_DELETE_OK, 7);
  buf[11] = 0xce;
  return buf;
}

export function encodeExchangeBindFrame(channel: number, a: Partial<ExchangeBind> = {}): Buffer {
  const v_destination = a.destination ?? "";
  const v_destinationLen = Buffer.byteLength(v_destination);
  if (v_destinationLen > 255) throw shortstrTooLong("exchange.bind", "destination", v_destinationLen);
  const v_source = a.source ?? "";
  const v_sourceLen = Buffer.byteLength(v_source);
  if (v_sourceLen > 255) throw shortstrTooLong("exchange.bind", "source", v_sourceLen);
  const v_routingKey = a.routingKey ?? "";
  const v_routingKeyLen = Buffer.byteLength(v_routingKey);
  if (v_routingKeyLen > 255) throw shortstrTooLong("exchange.bind", "routing-key", v_routingKeyLen);
  const v_arguments = a.arguments;
  const v_argumentsSize = encodedTableSize(v_arguments);
  const size = 18 + v_destinationLen + v_sourceLen + v_routingKeyLen + v_argumentsSize;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(EXCHANGE_BIND, 7);
  let o = 11;
  buf.writeUInt16BE(a.ticket ?? 0, o);
  o += 2;
  buf[o] = v_destinationLen;
  buf.write(v_destination, o + 1, "utf8");
  o += 1 + v_destinationLen;
  buf[o] = v_sourceLen;
  buf.write(v_source, o + 1, "utf8");
  o += 1 + v_sourceLen;
  buf[o] = v_routingKeyLen;
  buf.write(v_routingKey, o + 1, "utf8");
  o += 1 + v_routingKeyLen;
  buf[o] = ((a.nowait ?? false) ? 1 : 0);
  o += 1;
  o = writeTable(buf, o, v_arguments);
  buf[o] = 0xce;
  return buf;
}

export function encodeExchangeBindOkFrame(channel: number, _a: Partial<ExchangeBindOk> = {}): Buffer {
  const size = 12;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(EXCHANGE_BIND_OK, 7);
  buf[11] = 0xce;
  return buf;
}

export function encodeExchangeUnbindFrame(channel: number, a: Partial<ExchangeUnbind> = {}): Buffer {
  const v_destination = a.destination ?? "";
  const v_destinationLen = Buffer.byteLength(v_destination);
  if (v_destinationLen > 255) throw shortstrTooLong("exchange.unbind", "destination", v_destinationLen);
  const v_source = a.source ?? "";
  const v_sourceLen = Buffer.byteLength(v_source);
  if (v_sourceLen > 255) throw shortstrTooLong("exchange.unbind", "source", v_sourceLen);
  const v_routingKey = a.routingKey ?? "";
  const v_routingKeyLen = Buffer.byteLength(v_routingKey);
  if (v_routingKeyLen > 255) throw shortstrTooLong("exchange.unbind", "routing-key", v_routingKeyLen);
  const v_arguments = a.arguments;
  const v_argumentsSize = encodedTableSize(v_arguments);
  const size = 18 + v_destinationLen + v_sourceLen + v_routingKeyLen + v_argumentsSize;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(EXCHANGE_UNBIND, 7);
  let o = 11;
  buf.writeUInt16BE(a.ticket ?? 0, o);
  o += 2;
  buf[o] = v_destinationLen;
  buf.write(v_destination, o + 1, "utf8");
  o += 1 + v_destinationLen;
  buf[o] = v_sourceLen;
  buf.write(v_source, o + 1, "utf8");
  o += 1 + v_sourceLen;
  buf[o] = v_routingKeyLen;
  buf.write(v_routingKey, o + 1, "utf8");
  o += 1 + v_routingKeyLen;
  buf[o] = ((a.nowait ?? false) ? 1 : 0);
  o += 1;
  o = writeTable(buf, o, v_arguments);
  buf[o] = 0xce;
  return buf;
}

export function encodeExchangeUnbindOkFrame(channel: number, _a: Partial<ExchangeUnbindOk> = {}): Buffer {
  const size = 12;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(EXCHANGE_UNBIND_OK, 7);
  buf[11] = 0xce;
  return buf;
}

export function encodeQueueDeclareFrame(channel: number, a: Partial<QueueDeclare> = {}): Buffer {
  const v_queue = a.queue ?? "";
  const v_queueLen = Buffer.byteLength(v_queue);
  if (v_queueLen > 255) throw shortstrTooLong("queue.declare", "queue", v_queueLen);
  const v_arguments = a.arguments;
  const v_argumentsSize = encodedTableSize(v_arguments);
  const size = 16 + v_queueLen + v_argumentsSize;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(QUEUE_DECLARE, 7);
  let o = 11;
  buf.writeUInt16BE(a.ticket ?? 0, o);
  o += 2;
  buf[o] = v_queueLen;
  buf.write(v_queue, o + 1, "utf8");
  o += 1 + v_queueLen;
  buf[o] = ((a.passive ?? false) ? 1 : 0) | ((a.durable ?? false) ? 2 : 0) | ((a.exclusive ?? false) ? 4 : 0) | ((a.autoDelete ?? false) ? 8 : 0) | ((a.nowait ?? false) ? 16 : 0);
  o += 1;
  o = writeTable(buf, o, v_arguments);
  buf[o] = 0xce;
  return buf;
}

export function encodeQueueDeclareOkFrame(channel: number, a: Partial<QueueDeclareOk> = {}): Buffer {
  const v_queue = a.queue ?? "";
  const v_queueLen = Buffer.byteLength(v_queue);
  if (v_queueLen > 255) throw shortstrTooLong("queue.declare-ok", "queue", v_queueLen);
  const size = 21 + v_queueLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(QUEUE_DECLARE_OK, 7);
  let o = 11;
  buf[o] = v_queueLen;
  buf.write(v_queue, o + 1, "utf8");
  o += 1 + v_queueLen;
  buf.writeUInt32BE(a.messageCount ?? 0, o);
  o += 4;
  buf.writeUInt32BE(a.consumerCount ?? 0, o);
  o += 4;
  buf[o] = 0xce;
  return buf;
}

export function encodeQueueBindFrame(channel: number, a: Partial<QueueBind> = {}): Buffer {
  const v_queue = a.queue ?? "";
  const v_queueLen = Buffer.byteLength(v_queue);
  if (v_queueLen > 255) throw shortstrTooLong("queue.bind", "queue", v_queueLen);
  const v_exchange = a.exchange ?? "";
  const v_exchangeLen = Buffer.byteLength(v_exchange);
  if (v_exchangeLen > 255) throw shortstrTooLong("queue.bind", "exchange", v_exchangeLen);
  const v_routingKey = a.routingKey ?? "";
  const v_routingKeyLen = Buffer.byteLength(v_routingKey);
  if (v_routingKeyLen > 255) throw shortstrTooLong("queue.bind", "routing-key", v_routingKeyLen);
  const v_arguments = a.arguments;
  const v_argumentsSize = encodedTableSize(v_arguments);
  const size = 18 + v_queueLen + v_exchangeLen + v_routingKeyLen + v_argumentsSize;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(QUEUE_BIND, 7);
  let o = 11;
  buf.writeUInt16BE(a.ticket ?? 0, o);
  o += 2;
  buf[o] = v_queueLen;
  buf.write(v_queue, o + 1, "utf8");
  o += 1 + v_queueLen;
  buf[o] = v_exchangeLen;
  buf.write(v_exchange, o + 1, "utf8");
  o += 1 + v_exchangeLen;
  buf[o] = v_routingKeyLen;
  buf.write(v_routingKey, o + 1, "utf8");
  o += 1 + v_routingKeyLen;
  buf[o] = ((a.nowait ?? false) ? 1 : 0);
  o += 1;
  o = writeTable(buf, o, v_arguments);
  buf[o] = 0xce;
  return buf;
}

export function encodeQueueBindOkFrame(channel: number, _a: Partial<QueueBindOk> = {}): Buffer {
  const size = 12;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(QUEUE_BIND_OK, 7);
  buf[11] = 0xce;
  return buf;
}

export function encodeQueuePurgeFrame(channel: number, a: Partial<QueuePurge> = {}): Buffer {
  const v_queue = a.queue ?? "";
  const v_queueLen = Buffer.byteLength(v_queue);
  if (v_queueLen > 255) throw shortstrTooLong("queue.purge", "queue", v_queueLen);
  const size = 16 + v_queueLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(QUEUE_PURGE, 7);
  let o = 11;
  buf.writeUInt16BE(a.ticket ?? 0, o);
  o += 2;
  buf[o] = v_queueLen;
  buf.write(v_queue, o + 1, "utf8");
  o += 1 + v_queueLen;
  buf[o] = ((a.nowait ?? false) ? 1 : 0);
  o += 1;
  buf[o] = 0xce;
  return buf;
}

export function encodeQueuePurgeOkFrame(channel: number, a: Partial<QueuePurgeOk> = {}): Buffer {
  const size = 16;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(QUEUE_PURGE_OK, 7);
  let o = 11;
  buf.writeUInt32BE(a.messageCount ?? 0, o);
  o += 4;
  buf[o] = 0xce;
  return buf;
}

export function encodeQueueDeleteFrame(channel: number, a: Partial<QueueDelete> = {}): Buffer {
  const v_queue = a.queue ?? "";
  const v_queueLen = Buffer.byteLength(v_queue);
  if (v_queueLen > 255) throw shortstrTooLong("queue.delete", "queue", v_queueLen);
  const size = 16 + v_queueLen;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(QUEUE_DELETE, 7);
  let o = 11;
  buf.writeUInt16BE(a.ticket ?? 0, o);
  o += 2;
  buf[o] = v_queueLen;
  buf.write(v_queue, o + 1, "utf8");
  o += 1 + v_queueLen;
  buf[o] = ((a.ifUnused ?? false) ? 1 : 0) | ((a.ifEmpty ?? false) ? 2 : 0) | ((a.nowait ?? false) ? 4 : 0);
  o += 1;
  buf[o] = 0xce;
  return buf;
}

export function encodeQueueDeleteOkFrame(channel: number, a: Partial<QueueDeleteOk> = {}): Buffer {
  const size = 16;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(QUEUE_DELETE_OK, 7);
  let o = 11;
  buf.writeUInt32BE(a.messageCount ?? 0, o);
  o += 4;
  buf[o] = 0xce;
  return buf;
}

export function encodeQueueUnbindFrame(channel: number, a: Partial<QueueUnbind> = {}): Buffer {
  const v_queue = a.queue ?? "";
  const v_queueLen = Buffer.byteLength(v_queue);
  if (v_queueLen > 255) throw shortstrTooLong("queue.unbind", "queue", v_queueLen);
  const v_exchange = a.exchange ?? "";
  const v_exchangeLen = Buffer.byteLength(v_exchange);
  if (v_exchangeLen > 255) throw shortstrTooLong("queue.unbind", "exchange", v_exchangeLen);
  const v_routingKey = a.routingKey ?? "";
  const v_routingKeyLen = Buffer.byteLength(v_routingKey);
  if (v_routingKeyLen > 255) throw shortstrTooLong("queue.unbind", "routing-key", v_routingKeyLen);
  const v_arguments = a.arguments;
  const v_argumentsSize = encodedTableSize(v_arguments);
  const size = 17 + v_queueLen + v_exchangeLen + v_routingKeyLen + v_argumentsSize;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(QUEUE_UNBIND, 7);
  let o = 11;
  buf.writeUInt16BE(a.ticket ?? 0, o);
  o += 2;
  buf[o] = v_queueLen;
  buf.write(v_queue, o + 1, "utf8");
  o += 1 + v_queueLen;
  buf[o] = v_exchangeLen;
  buf.write(v_exchange, o + 1, "utf8");
  o += 1 + v_exchangeLen;
  buf[o] = v_routingKeyLen;
  buf.write(v_routingKey, o + 1, "utf8");
  o += 1 + v_routingKeyLen;
  o = writeTable(buf, o, v_arguments);
  buf[o] = 0xce;
  return buf;
}

export function encodeQueueUnbindOkFrame(channel: number, _a: Partial<QueueUnbindOk> = {}): Buffer {
  const size = 12;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(QUEUE_UNBIND_OK, 7);
  buf[11] = 0xce;
  return buf;
}

export function encodeTxSelectFrame(channel: number, _a: Partial<TxSelect> = {}): Buffer {
  const size = 12;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(TX_SELECT, 7);
  buf[11] = 0xce;
  return buf;
}

export function encodeTxSelectOkFrame(channel: number, _a: Partial<TxSelectOk> = {}): Buffer {
  const size = 12;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(TX_SELECT_OK, 7);
  buf[11] = 0xce;
  return buf;
}

export function encodeTxCommitFrame(channel: number, _a: Partial<TxCommit> = {}): Buffer {
  const size = 12;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(TX_COMMIT, 7);
  buf[11] = 0xce;
  return buf;
}

export function encodeTxCommitOkFrame(channel: number, _a: Partial<TxCommitOk> = {}): Buffer {
  const size = 12;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(TX_COMMIT_OK, 7);
  buf[11] = 0xce;
  return buf;
}

export function encodeTxRollbackFrame(channel: number, _a: Partial<TxRollback> = {}): Buffer {
  const size = 12;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(TX_ROLLBACK, 7);
  buf[11] = 0xce;
  return buf;
}

export function encodeTxRollbackOkFrame(channel: number, _a: Partial<TxRollbackOk> = {}): Buffer {
  const size = 12;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(TX_ROLLBACK_OK, 7);
  buf[11] = 0xce;
  return buf;
}

export function encodeConfirmSelectFrame(channel: number, a: Partial<ConfirmSelect> = {}): Buffer {
  const size = 13;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(CONFIRM_SELECT, 7);
  let o = 11;
  buf[o] = ((a.nowait ?? false) ? 1 : 0);
  o += 1;
  buf[o] = 0xce;
  return buf;
}

export function encodeConfirmSelectOkFrame(channel: number, _a: Partial<ConfirmSelectOk> = {}): Buffer {
  const size = 12;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(size - 8, 3);
  buf.writeUInt32BE(CONFIRM_SELECT_OK, 7);
  buf[11] = 0xce;
  return buf;
}

/** A complete method frame for method `id` on `channel`; missing arguments take spec defaults. */
export function encodeMethodFrame(channel: number, id: number, args: object): Buffer {
  switch (id) {
    case BASIC_QOS:
      return encodeBasicQosFrame(channel, args as Partial<BasicQos>);
    case BASIC_QOS_OK:
      return encodeBasicQosOkFrame(channel, args as Partial<BasicQosOk>);
    case BASIC_CONSUME:
      return encodeBasicConsumeFrame(channel, args as Partial<BasicConsume>);
    case BASIC_CONSUME_OK:
      return encodeBasicConsumeOkFrame(channel, args as Partial<BasicConsumeOk>);
    case BASIC_CANCEL:
      return encodeBasicCancelFrame(channel, args as Partial<BasicCancel>);
    case BASIC_CANCEL_OK:
      return encodeBasicCancelOkFrame(channel, args as Partial<BasicCancelOk>);
    case BASIC_PUBLISH:
      return encodeBasicPublishFrame(channel, args as Partial<BasicPublish>);
    case BASIC_RETURN:
      return encodeBasicReturnFrame(channel, args as Partial<BasicReturn>);
    case BASIC_DELIVER:
      return encodeBasicDeliverFrame(channel, args as Partial<BasicDeliver>);
    case BASIC_GET:
      return encodeBasicGetFrame(channel, args as Partial<BasicGet>);
    case BASIC_GET_OK:
      return encodeBasicGetOkFrame(channel, args as Partial<BasicGetOk>);
    case BASIC_GET_EMPTY:
      return encodeBasicGetEmptyFrame(channel, args as Partial<BasicGetEmpty>);
    case BASIC_ACK:
      return encodeBasicAckFrame(channel, args as Partial<BasicAck>);
    case BASIC_REJECT:
      return encodeBasicRejectFrame(channel, args as Partial<BasicReject>);
    case BASIC_RECOVER_ASYNC:
      return encodeBasicRecoverAsyncFrame(channel, args as Partial<BasicRecoverAsync>);
    case BASIC_RECOVER:
      return encodeBasicRecoverFrame(channel, args as Partial<BasicRecover>);
    case BASIC_RECOVER_OK:
      return encodeBasicRecoverOkFrame(channel, args as Partial<BasicRecoverOk>);
    case BASIC_NACK:
      return encodeBasicNackFrame(channel, args as Partial<BasicNack>);
    case CONNECTION_START:
      return encodeConnectionStartFrame(channel, args as Partial<ConnectionStart>);
    case CONNECTION_START_OK:
      return encodeConnectionStartOkFrame(channel, args as Partial<ConnectionStartOk>);
    case CONNECTION_SECURE:
      return encodeConnectionSecureFrame(channel, args as Partial<ConnectionSecure>);
    case CONNECTION_SECURE_OK:
      return encodeConnectionSecureOkFrame(channel, args as Partial<ConnectionSecureOk>);
    case CONNECTION_TUNE:
      return encodeConnectionTuneFrame(channel, args as Partial<ConnectionTune>);
    case CONNECTION_TUNE_OK:
      return encodeConnectionTuneOkFrame(channel, args as Partial<ConnectionTuneOk>);
    case CONNECTION_OPEN:
      return encodeConnectionOpenFrame(channel, args as Partial<ConnectionOpen>);
    case CONNECTION_OPEN_OK:
      return encodeConnectionOpenOkFrame(channel, args as Partial<ConnectionOpenOk>);
    case CONNECTION_CLOSE:
      return encodeConnectionCloseFrame(channel, args as Partial<ConnectionClose>);
    case CONNECTION_CLOSE_OK:
      return encodeConnectionCloseOkFrame(channel, args as Partial<ConnectionCloseOk>);
    case CONNECTION_BLOCKED:
      return encodeConnectionBlockedFrame(channel, args as Partial<ConnectionBlocked>);
    case CONNECTION_UNBLOCKED:
      return encodeConnectionUnblockedFrame(channel, args as Partial<ConnectionUnblocked>);
    case CONNECTION_UPDATE_SECRET:
      return encodeConnectionUpdateSecretFrame(channel, args as Partial<ConnectionUpdateSecret>);
    case CONNECTION_UPDATE_SECRET_OK:
      return encodeConnectionUpdateSecretOkFrame(channel, args as Partial<ConnectionUpdateSecretOk>);
    case CHANNEL_OPEN:
      return encodeChannelOpenFrame(channel, args as Partial<ChannelOpen>);
    case CHANNEL_OPEN_OK:
      return encodeChannelOpenOkFrame(channel, args as Partial<ChannelOpenOk>);
    case CHANNEL_FLOW:
      return encodeChannelFlowFrame(channel, args as Partial<ChannelFlow>);
    case CHANNEL_FLOW_OK:
      return encodeChannelFlowOkFrame(channel, args as Partial<ChannelFlowOk>);
    case CHANNEL_CLOSE:
      return encodeChannelCloseFrame(channel, args as Partial<ChannelClose>);
    case CHANNEL_CLOSE_OK:
      return encodeChannelCloseOkFrame(channel, args as Partial<ChannelCloseOk>);
    case ACCESS_REQUEST:
      return encodeAccessRequestFrame(channel, args as Partial<AccessRequest>);
    case ACCESS_REQUEST_OK:
      return encodeAccessRequestOkFrame(channel, args as Partial<AccessRequestOk>);
    case EXCHANGE_DECLARE:
      return encodeExchangeDeclareFrame(channel, args as Partial<ExchangeDeclare>);
    case EXCHANGE_DECLARE_OK:
      return encodeExchangeDeclareOkFrame(channel, args as Partial<ExchangeDeclareOk>);
    case EXCHANGE_DELETE:
      return encodeExchangeDeleteFrame(channel, args as Partial<ExchangeDelete>);
    case EXCHANGE_DELETE_OK:
      return encodeExchangeDeleteOkFrame(channel, args as Partial<ExchangeDeleteOk>);
    case EXCHANGE_BIND:
      return encodeExchangeBindFrame(channel, args as Partial<ExchangeBind>);
    case EXCHANGE_BIND_OK:
      return encodeExchangeBindOkFrame(channel, args as Partial<ExchangeBindOk>);
    case EXCHANGE_UNBIND:
      return encodeExchangeUnbindFrame(channel, args as Partial<ExchangeUnbind>);
    case EXCHANGE_UNBIND_OK:
      return encodeExchangeUnbindOkFrame(channel, args as Partial<ExchangeUnbindOk>);
    case QUEUE_DECLARE:
      return encodeQueueDeclareFrame(channel, args as Partial<QueueDeclare>);
    case QUEUE_DECLARE_OK:
      return encodeQueueDeclareOkFrame(channel, args as Partial<QueueDeclareOk>);
    case QUEUE_BIND:
      return encodeQueueBindFrame(channel, args as Partial<QueueBind>);
    case QUEUE_BIND_OK:
      return encodeQueueBindOkFrame(channel, args as Partial<QueueBindOk>);
    case QUEUE_PURGE:
      return encodeQueuePurgeFrame(channel, args as Partial<QueuePurge>);
    case QUEUE_PURGE_OK:
      return encodeQueuePurgeOkFrame(channel, args as Partial<QueuePurgeOk>);
    case QUEUE_DELETE:
      return encodeQueueDeleteFrame(channel, args as Partial<QueueDelete>);
    case QUEUE_DELETE_OK:
      return encodeQueueDeleteOkFrame(channel, args as Partial<QueueDeleteOk>);
    case QUEUE_UNBIND:
      return encodeQueueUnbindFrame(channel, args as Partial<QueueUnbind>);
    case QUEUE_UNBIND_OK:
      return encodeQueueUnbindOkFrame(channel, args as Partial<QueueUnbindOk>);
    case TX_SELECT:
      return encodeTxSelectFrame(channel, args as Partial<TxSelect>);
    case TX_SELECT_OK:
      return encodeTxSelectOkFrame(channel, args as Partial<TxSelectOk>);
    case TX_COMMIT:
      return encodeTxCommitFrame(channel, args as Partial<TxCommit>);
    case TX_COMMIT_OK:
      return encodeTxCommitOkFrame(channel, args as Partial<TxCommitOk>);
    case TX_ROLLBACK:
      return encodeTxRollbackFrame(channel, args as Partial<TxRollback>);
    case TX_ROLLBACK_OK:
      return encodeTxRollbackOkFrame(channel, args as Partial<TxRollbackOk>);
    case CONFIRM_SELECT:
      return encodeConfirmSelectFrame(channel, args as Partial<ConfirmSelect>);
    case CONFIRM_SELECT_OK:
      return encodeConfirmSelectOkFrame(channel, args as Partial<ConfirmSelectOk>);
    default:
      throw new RangeError(`encodeMethodFrame: unknown method id ${methodName(id)}`);
  }
}

/** Typed front for encodeMethodFrame. */
export function encodeMethod<K extends keyof MethodArgsMap>(channel: number, id: K, args: Partial<MethodArgsMap[K]>): Buffer {
  return encodeMethodFrame(channel, id, args);
}
