/**
 * Reply-code table and AmqpError.
 *
 * Pins down: the reply codes and their hard/soft class exactly as RabbitMQ's
 * spec table lists them (hard errors close the connection, soft ones the
 * channel), and RabbitMQ's reply-text form "NOT_FOUND - no queue 'x' in vhost '/'"
 * cut to fit a shortstr with a trailing "...".
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as E from "../../../src/amqp/errors.js";
import { repoRoot } from "../../helpers/broker.js";

test("reply codes and hard/soft classes match the spec JSON", () => {
  const spec = JSON.parse(readFileSync(join(repoRoot, "..", "shared", "spec", "amqp-rabbitmq-0.9.1.json"), "utf8")) as {
    constants: { name: string; value: number; class?: string }[];
  };
  const replies = spec.constants.filter((c) => c.class !== undefined || c.name === "REPLY-SUCCESS");
  assert.deepEqual(
    [...E.REPLY_CODES],
    replies.map((c) => c.value).sort((a, b) => a - b),
  );
  for (const c of replies) {
    const name = c.name.replace(/-/g, "_");
    assert.equal(E.replyName(c.value), name);
    assert.equal((E as unknown as Record<string, unknown>)[name], c.value, name);
    if (c.class) assert.equal(E.isHardError(c.value), c.class === "hard-error", name);
  }
  assert.equal(E.isHardError(E.REPLY_SUCCESS), false);
  assert.equal(E.replyName(999), "UNKNOWN_999");
});

test("factories build RabbitMQ-style texts; hard follows the code or forceConnection", () => {
  const e = E.notFound("no queue 'x' in vhost '/'", 50, 10);
  assert.ok(e instanceof Error && e instanceof E.AmqpError);
  assert.equal(e.code, 404);
  assert.equal(e.text, "NOT_FOUND - no queue 'x' in vhost '/'");
  assert.equal(e.message, e.text);
  assert.equal(e.classId, 50);
  assert.equal(e.methodId, 10);
  assert.equal(e.hard, false);
  assert.equal(new E.AmqpError(404, "x", 0, 0, true).hard, true);
  assert.equal(E.commandInvalid("x").hard, true);
  const pairs: [(m: string) => E.AmqpError, number][] = [
    [E.accessRefused, 403],
    [E.resourceLocked, 405],
    [E.preconditionFailed, 406],
    [E.frameError, 501],
    [E.syntaxError, 502],
    [E.commandInvalid, 503],
    [E.channelError, 504],
    [E.unexpectedFrame, 505],
    [E.resourceError, 506],
    [E.notAllowed, 530],
    [E.notImplemented, 540],
    [E.internalError, 541],
  ];
  for (const [f, code] of pairs) {
    const err = f("m");
    assert.equal(err.code, code);
    assert.equal(err.text, `${E.replyName(code)} - m`);
  }
  assert.deepEqual(e.withMethod(60, 40).classId, 60);
});

test("reply text is cut to 255 bytes ending in '...' like RabbitMQ, on a character boundary", () => {
  const e = E.notFound("no queue '" + "é".repeat(200) + "' in vhost '/'");
  assert.equal(e.text.endsWith("..."), true);
  assert.ok(Buffer.byteLength(e.text) <= 255);
  assert.ok(!e.text.includes("\ufffd"));
  const ascii = E.amqpError(404, "q".repeat(300));
  assert.equal(Buffer.byteLength(ascii.text), 255);
  assert.equal(E.fitReplyText("short"), "short");
});

// Reply texts are built in one place: the constructor prefixes the reply name once,
// whatever path raised the error (a doubled "FRAME_ERROR - FRAME_ERROR - ..." once reached the wire).
test("the reply name is prefixed exactly once, also through withMethod", () => {
  const e = new E.AmqpError(E.FRAME_ERROR, "content header too short", 0, 0, true);
  assert.equal(e.text, "FRAME_ERROR - content header too short");
  assert.equal(e.explanation, "content header too short");
  assert.equal(E.frameError("x").withMethod(60, 40).text, "FRAME_ERROR - x");
});
