/**
 * AMQP reply codes and the one protocol-error type.
 *
 * Owns: the reply-code table (values and hard/soft class exactly as in
 * amqp-rabbitmq-0.9.1.json; test/unit/amqp/errors.test.ts checks the table
 * against the JSON), `AmqpError`, and factories that build RabbitMQ-style reply
 * texts ("NOT_FOUND - no queue 'x' in vhost '/'").
 * Does not own: deciding how an error is carried out (channel.close vs
 * connection.close) — the server does that from `err.hard`.
 *
 * Invariants: `AmqpError.text` always fits a shortstr (<= 255 UTF-8 bytes);
 * longer texts are cut to 252 bytes + "..." as RabbitMQ does, so any code may
 * put it straight into channel.close / connection.close.
 */

export const REPLY_SUCCESS = 200;
export const CONTENT_TOO_LARGE = 311;
export const NO_ROUTE = 312;
export const NO_CONSUMERS = 313;
export const CONNECTION_FORCED = 320;
export const INVALID_PATH = 402;
export const ACCESS_REFUSED = 403;
export const NOT_FOUND = 404;
export const RESOURCE_LOCKED = 405;
export const PRECONDITION_FAILED = 406;
export const FRAME_ERROR = 501;
export const SYNTAX_ERROR = 502;
export const COMMAND_INVALID = 503;
export const CHANNEL_ERROR = 504;
export const UNEXPECTED_FRAME = 505;
export const RESOURCE_ERROR = 506;
export const NOT_ALLOWED = 530;
export const NOT_IMPLEMENTED = 540;
export const INTERNAL_ERROR = 541;

/** code -> [spec name with underscores, hard?]. REPLY_SUCCESS has no class in the spec. */
const REPLY_TABLE: ReadonlyMap<number, readonly [string, boolean]> = new Map<number, readonly [string, boolean]>([
  [REPLY_SUCCESS, ["REPLY_SUCCESS", false]],
  [CONTENT_TOO_LARGE, ["CONTENT_TOO_LARGE", false]],
  [NO_ROUTE, ["NO_ROUTE", false]],
  [NO_CONSUMERS, ["NO_CONSUMERS", false]],
  [ACCESS_REFUSED, ["ACCESS_REFUSED", false]],
  [NOT_FOUND, ["NOT_FOUND", false]],
  [RESOURCE_LOCKED, ["RESOURCE_LOCKED", false]],
  [PRECONDITION_FAILED, ["PRECONDITION_FAILED", false]],
  [CONNECTION_FORCED, ["CONNECTION_FORCED", true]],
  [INVALID_PATH, ["INVALID_PATH", true]],
  [FRAME_ERROR, ["FRAME_ERROR", true]],
  [SYNTAX_ERROR, ["SYNTAX_ERROR", true]],
  [COMMAND_INVALID, ["COMMAND_INVALID", true]],
  [CHANNEL_ERROR, ["CHANNEL_ERROR", true]],
  [UNEXPECTED_FRAME, ["UNEXPECTED_FRAME", true]],
  [RESOURCE_ERROR, ["RESOURCE_ERROR", true]],
  [NOT_ALLOWED, ["NOT_ALLOWED", true]],
  [NOT_IMPLEMENTED, ["NOT_IMPLEMENTED", true]],
  [INTERNAL_ERROR, ["INTERNAL_ERROR", true]],
]);

/** All reply codes the spec defines, ascending. */
export const REPLY_CODES: readonly number[] = [...REPLY_TABLE.keys()].sort((a, b) => a - b);

/** True for the spec's "hard-error" class (must close the connection). Unknown codes count as hard. */
export function isHardError(code: number): boolean {
  const e = REPLY_TABLE.get(code);
  return e === undefined ? true : e[1];
}

/** "NOT_FOUND" for 404; "UNKNOWN_<code>" for codes outside the spec. */
export function replyName(code: number): string {
  return REPLY_TABLE.get(code)?.[0] ?? `UNKNOWN_${code}`;
}

const MAX_REPLY_TEXT = 255;

/**
 * RabbitMQ cuts reply texts that do not fit a shortstr to 252 bytes plus "..."
 * (observed: a FRAME_ERROR "cannot decode <<...>>" of a long frame is exactly
 * 255 bytes ending in "..."). We cut on a UTF-8 character boundary.
 */
export function fitReplyText(text: string): string {
  if (text.length <= MAX_REPLY_TEXT / 3 || Buffer.byteLength(text) <= MAX_REPLY_TEXT) return text;
  const bytes = Buffer.from(text);
  let cut = MAX_REPLY_TEXT - 3;
  while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--; // do not split a multi-byte character
  return bytes.toString("utf8", 0, cut) + "...";
}

/**
 * The protocol error every layer throws. It is the one place reply texts are
 * built: callers give the explanation ("no queue 'q' in vhost '/'") and the
 * text on the wire is always "<REPLY_NAME> - <explanation>", fitted to a
 * shortstr. classId/methodId name the method that failed (0 when none).
 * `forceConnection` makes a soft code close the connection (e.g. an error on
 * channel 0, or RabbitMQ's connection-level uses of soft codes).
 */
export class AmqpError extends Error {
  /** the full reply-text as sent on the wire */
  readonly text: string;

  constructor(
    readonly code: number,
    readonly explanation: string,
    readonly classId = 0,
    readonly methodId = 0,
    readonly forceConnection = false,
  ) {
    const fitted = fitReplyText(`${replyName(code)} - ${explanation}`);
    super(fitted);
    this.text = fitted;
    this.name = "AmqpError";
  }

  /** Hard errors close the connection; soft errors close only the channel. */
  get hard(): boolean {
    return this.forceConnection || isHardError(this.code);
  }

  /** Same error, attributed to a method (class-id/method-id of the close). */
  withMethod(classId: number, methodId: number): AmqpError {
    return new AmqpError(this.code, this.explanation, classId, methodId, this.forceConnection);
  }
}

/** RabbitMQ-style error: text is "<REPLY_NAME> - <explanation>". */
export function amqpError(code: number, explanation: string, classId = 0, methodId = 0): AmqpError {
  return new AmqpError(code, explanation, classId, methodId);
}

export const notFound = (msg: string, classId = 0, methodId = 0): AmqpError => amqpError(NOT_FOUND, msg, classId, methodId);
export const accessRefused = (msg: string, classId = 0, methodId = 0): AmqpError => amqpError(ACCESS_REFUSED, msg, classId, methodId);
export const resourceLocked = (msg: string, classId = 0, methodId = 0): AmqpError => amqpError(RESOURCE_LOCKED, msg, classId, methodId);
export const preconditionFailed = (msg: string, classId = 0, methodId = 0): AmqpError => amqpError(PRECONDITION_FAILED, msg, classId, methodId);
export const frameError = (msg: string, classId = 0, methodId = 0): AmqpError => amqpError(FRAME_ERROR, msg, classId, methodId);
export const syntaxError = (msg: string, classId = 0, methodId = 0): AmqpError => amqpError(SYNTAX_ERROR, msg, classId, methodId);
export const commandInvalid = (msg: string, classId = 0, methodId = 0): AmqpError => amqpError(COMMAND_INVALID, msg, classId, methodId);
export const channelError = (msg: string, classId = 0, methodId = 0): AmqpError => amqpError(CHANNEL_ERROR, msg, classId, methodId);
export const unexpectedFrame = (msg: string, classId = 0, methodId = 0): AmqpError => amqpError(UNEXPECTED_FRAME, msg, classId, methodId);
export const notAllowed = (msg: string, classId = 0, methodId = 0): AmqpError => amqpError(NOT_ALLOWED, msg, classId, methodId);
export const notImplemented = (msg: string, classId = 0, methodId = 0): AmqpError => amqpError(NOT_IMPLEMENTED, msg, classId, methodId);
export const internalError = (msg: string, classId = 0, methodId = 0): AmqpError => amqpError(INTERNAL_ERROR, msg, classId, methodId);
export const resourceError = (msg: string, classId = 0, methodId = 0): AmqpError => amqpError(RESOURCE_ERROR, msg, classId, methodId);

/**
 * A hard error RabbitMQ reports with class-id and method-id 0/0 although a method was being
 * decoded (e.g. "Malformed UTF-8 in shortstr"): the server keeps those zeros.
 */
export class FrameLevelError extends AmqpError {
  constructor(code: number, explanation: string) {
    super(code, explanation, 0, 0, true);
  }
}
