/**
 * Wire conformance: framing and channel-lifecycle errors — all connection-level.
 *
 * Pins down rabbit_reader / rabbit_command_assembler (RabbitMQ 3.10): frame
 * errors are connection.close 501 FRAME_ERROR; a frame the assembler did not
 * expect is 505 UNEXPECTED_FRAME; channel misuse is 504 CHANNEL_ERROR; a
 * connection method on a channel is 503 COMMAND_INVALID; unimplemented
 * features are 540 NOT_IMPLEMENTED. After sending connection.close the server
 * ignores everything but close/close-ok, and closes the socket on close-ok.
 * Reply texts are pinned in full, including rabbit_reader's Erlang-term ones
 * ("type 1, all octets = <<0,50>>: unknown_frame", "cannot decode <<...>>"); only
 * the frame-end one, which RabbitMQ line-wraps, is a pattern.
 *
 * Each test also checks that another connection is unaffected.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { type RawClient, M, Args, args, frame, headerFrame, bodyFrame, methodPayload, FRAME_METHOD, type CloseInfo } from "../helpers/raw-client.js";
import { wireEnv, assertBrokerUsable, assertClose, uniq, type WireEnv } from "./wire-helpers.js";

let env: WireEnv;
before(async () => {
  env = await wireEnv();
});
after(async () => {
  await env.broker.stop();
});

const declareArgs = () => args.queueDeclare(uniq("wire-f"), { exclusive: true });

/** Runs `misuse` on a fresh connection (channel 1 open), expects connection.close `code`, close-ok, socket closed. */
async function connectionError(misuse: (c: RawClient) => void | Promise<void>, code: number, text: string | RegExp, classId?: number, methodId?: number): Promise<CloseInfo> {
  const bystander = await env.openWithChannel();
  const c = await env.openWithChannel();
  try {
    await misuse(c);
    const close = await c.expectConnectionClose(code);
    assertClose(close, code, text, classId, methodId);
    // RabbitMQ closes on close-ok, or ~3 s after a fatal frame error ("lost sync": close-ok is not read)
    await c.expectSocketClosed(5000);
    // the other connection is unaffected
    await bystander.openChannel(2);
    bystander.sendMethod(2, M.queueDeclare, declareArgs());
    await bystander.expect(2, M.queueDeclareOk);
    return close;
  } finally {
    c.destroy();
    await bystander.close();
  }
}

// rabbit_reader: a frame-end octet other than 0xCE is a fatal frame error.
test("wrong frame-end octet: connection.close 501", async () => {
  await connectionError(
    (c) => c.send(frame(FRAME_METHOD, 1, methodPayload(M.queueDeclare, declareArgs()), 0x00)),
    501,
    /^FRAME_ERROR - type 1, first 16 octets = <<0,50,0,10,0,0,[0-9,]+>>: \{invalid_frame_end_marker,\s*0\}$/,
    0,
    0,
  );
});

// rabbit_reader: payload above the negotiated frame_max is refused from the frame header alone.
test("frame larger than frame_max: connection.close 501", async () => {
  await connectionError((c) => c.send(frame(FRAME_METHOD, 1, Buffer.alloc(200_000))), 501, "FRAME_ERROR - type 1, all octets = <<>>: {frame_too_large,200000,131064}", 0, 0);
});

// Same, for a body frame just one octet over frame_max, with only the 7-octet frame header sent.
test("body frame header announcing frame_max+1 octets: connection.close 501 without waiting for the payload", async () => {
  await connectionError(
    (c) => {
      const h = Buffer.alloc(7);
      h.writeUInt8(3, 0);
      h.writeUInt16BE(1, 1);
      h.writeUInt32BE(c.tune!.frameMax + 1, 3);
      c.send(h);
    },
    501,
    "FRAME_ERROR - type 3, all octets = <<>>: {frame_too_large,131073,131064}",
    0,
    0,
  );
});

// A body frame of exactly frame_max - 8 payload octets is legal.
test("body frame of exactly frame_max is accepted", async () => {
  const c = await env.openWithChannel();
  try {
    const max = c.tune!.frameMax - 8;
    c.sendMethod(1, M.basicPublish, args.basicPublish("", uniq("nowhere")));
    c.send(headerFrame(1, max));
    c.send(bodyFrame(1, Buffer.alloc(max)));
    c.sendMethod(1, M.basicQos, args.basicQos(0, 1));
    await c.expect(1, M.basicQosOk);
  } finally {
    await c.close();
  }
});

// rabbit_reader: frame type other than 1/2/3/8 is an unknown frame.
test("unknown frame type: connection.close 501", async () => {
  await connectionError((c) => c.send(frame(7, 1, Buffer.alloc(3))), 501, "FRAME_ERROR - type 7, all octets = <<0,0,0>>: unknown_frame", 0, 0);
});

// rabbit_command_assembler: a method frame too short to hold class-id and method-id.
test("method frame shorter than 4 octets: connection.close 501", async () => {
  await connectionError((c) => c.send(frame(FRAME_METHOD, 1, Buffer.from([0, 50]))), 501, "FRAME_ERROR - type 1, all octets = <<0,50>>: unknown_frame", 0, 0);
});

// rabbit_channel: a method on a channel number never opened — channel must start with channel.open.
test("method on a channel never opened: connection.close 504", async () => {
  await connectionError((c) => c.sendMethod(5, M.queueDeclare, declareArgs()), 504, "CHANNEL_ERROR - expected 'channel.open'", 50, 10);
});

// rabbit_channel: channel.open on an open channel.
test("channel.open twice on one channel: connection.close 504", async () => {
  await connectionError((c) => c.sendMethod(1, M.channelOpen, new Args().shortstr("").build()), 504, "CHANNEL_ERROR - second 'channel.open' seen", 20, 10);
});

// rabbit_reader: a channel-class method on channel 0.
test("channel method on channel 0: connection.close 504", async () => {
  await connectionError((c) => c.sendMethod(0, M.queueDeclare, declareArgs()), 504, "CHANNEL_ERROR - unexpected method in connection state running", 50, 10);
});

// rabbit_channel: a connection-class method on a channel is not a channel method.
test("connection method on a channel: connection.close 503", async () => {
  await connectionError((c) => c.sendMethod(1, M.connectionTuneOk, new Args().short(0).long(131072).short(0).build()), 503, "COMMAND_INVALID - unimplemented method", 10, 31);
});

// rabbit_channel: channel.close-ok that answers nothing.
test("unsolicited channel.close-ok: connection.close 503", async () => {
  await connectionError((c) => c.sendMethod(1, M.channelCloseOk), 503, "COMMAND_INVALID - unimplemented method", 20, 41);
});

// rabbit_command_assembler: content header when a method was expected.
test("content header without a content method: connection.close 505", async () => {
  await connectionError((c) => c.send(headerFrame(1, 5)), 505, "UNEXPECTED_FRAME - expected method frame, got non method frame instead", 0, 0);
});

// rabbit_command_assembler: body frame when a method was expected.
test("body frame without header: connection.close 505", async () => {
  await connectionError((c) => c.send(bodyFrame(1, "hello")), 505, "UNEXPECTED_FRAME - expected method frame, got non method frame instead", 0, 0);
});

// rabbit_command_assembler: body frame right after basic.publish (header missing).
test("body frame right after basic.publish: connection.close 505", async () => {
  await connectionError(
    (c) => {
      c.sendMethod(1, M.basicPublish, args.basicPublish("", "x"));
      c.send(bodyFrame(1, "hello"));
    },
    505,
    "UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead",
    60,
    40,
  );
});

// rabbit_command_assembler: a method frame where the content header belongs.
test("method frame right after basic.publish: connection.close 505", async () => {
  await connectionError(
    (c) => {
      c.sendMethod(1, M.basicPublish, args.basicPublish("", "x"));
      c.sendMethod(1, M.queueDeclare, declareArgs());
    },
    505,
    "UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead",
    60,
    40,
  );
});

// rabbit_command_assembler: a method frame in the middle of the body.
test("method frame in the middle of content: connection.close 505", async () => {
  await connectionError(
    (c) => {
      c.sendMethod(1, M.basicPublish, args.basicPublish("", "x"));
      c.send(headerFrame(1, 10));
      c.send(bodyFrame(1, "hello"));
      c.sendMethod(1, M.queueDeclare, declareArgs());
    },
    505,
    "UNEXPECTED_FRAME - expected content body, got non content body frame instead",
    60,
    40,
  );
});

// rabbit_command_assembler: content header whose class-id is not the method's class.
test("content header with the wrong class-id: connection.close 505", async () => {
  await connectionError(
    (c) => {
      c.sendMethod(1, M.basicPublish, args.basicPublish("", "x"));
      c.send(headerFrame(1, 5, {}, 50));
    },
    505,
    "UNEXPECTED_FRAME - expected content header for class 60, got one for class 50 instead",
    60,
    40,
  );
});

// rabbit_command_assembler: a content header too short for class, weight, body size and
// property flags cannot be parsed — the frame named by its octets, 0/0 (the text once carried
// the FRAME_ERROR prefix twice).
test("content header shorter than 14 octets: connection.close 501", async () => {
  await connectionError(
    (c) => {
      c.sendMethod(1, M.basicPublish, args.basicPublish("", "x"));
      c.send(frame(2, 1, Buffer.from([0, 60, 0, 0, 0, 0])));
    },
    501,
    "FRAME_ERROR - type 2, all octets = <<0,60,0,0,0,0>>: unknown_frame",
    0,
    0,
  );
});

// rabbit_reader: heartbeats belong on channel 0.
test("heartbeat frame on a non-zero channel: connection.close 505", async () => {
  await connectionError((c) => c.send(frame(8, 1, Buffer.alloc(0))), 505, "UNEXPECTED_FRAME - type 8, all octets = <<>>", 0, 0);
});

// rabbit_reader: a heartbeat with a payload is not a heartbeat.
test("heartbeat frame with a payload: connection.close 501", async () => {
  await connectionError((c) => c.send(frame(8, 0, Buffer.from("xx"))), 501, 'FRAME_ERROR - type 8, all octets = <<"xx">>: unknown_frame', 0, 0);
});

// rabbit_reader: content frames on channel 0.
test("content header on channel 0: connection.close 505", async () => {
  await connectionError((c) => c.send(headerFrame(0, 1)), 505, "UNEXPECTED_FRAME - type 2, all octets = <<0,60,0,0,0,0,0,0,0,0,0,1,0,0>>", 0, 0);
});
test("body frame on channel 0: connection.close 505", async () => {
  await connectionError((c) => c.send(bodyFrame(0, "x")), 505, 'UNEXPECTED_FRAME - type 3, all octets = <<"x">>', 0, 0);
});

// rabbit_framing decode: arguments shorter than the method's fields.
test("truncated method arguments: connection.close 501", async () => {
  const a = declareArgs().subarray(0, 4);
  await connectionError((c) => c.sendMethod(1, M.queueDeclare, a), 501, `FRAME_ERROR - cannot decode <<${[...a].join(",")}>>`, 50, 10);
});

// rabbit_framing decode: extra octets after the last field are not tolerated either.
test("trailing octets after method arguments: connection.close 501", async () => {
  const a = Buffer.concat([declareArgs(), Buffer.from([1, 2, 3])]);
  await connectionError((c) => c.sendMethod(1, M.queueDeclare, a), 501, `FRAME_ERROR - cannot decode <<${[...a].join(",")}>>`, 50, 10);
});

// rabbit_channel: channel.flow(active=false) is not implemented by RabbitMQ.
test("channel.flow active=false: connection.close 540", async () => {
  await connectionError((c) => c.sendMethod(1, M.channelFlow, new Args().bit(false).build()), 540, "NOT_IMPLEMENTED - active=false", 20, 20);
});

// rabbit_channel: basic.publish immediate=true is not implemented (since 3.0).
test("basic.publish immediate=true: connection.close 540", async () => {
  await connectionError(
    (c) => {
      c.sendMethod(1, M.basicPublish, args.basicPublish("", "x", false, true));
      c.send(headerFrame(1, 0));
    },
    540,
    "NOT_IMPLEMENTED - immediate=true",
    60,
    40,
  );
});

// rabbit_reader create_channel: opening more channels than the negotiated channel_max.
test("more channels than the negotiated channel_max: connection.close 530", async () => {
  const c = await env.open({ channelMax: 2 });
  try {
    await c.openChannel(1);
    await c.openChannel(2);
    c.sendMethod(3, M.channelOpen, new Args().shortstr("").build());
    const close = await c.expectConnectionClose(530);
    assertClose(close, 530, "NOT_ALLOWED - number of channels opened (2) has reached the negotiated channel_max (2)", 0, 0);
    await c.expectSocketClosed();
  } finally {
    c.destroy();
  }
});

// RabbitMQ 3.10 limits the number of open channels, not the channel number: channel 2000 with
// channel_max 2 opens fine (clients that pick sparse channel numbers rely on this).
test("a channel number above channel_max opens while the count is below it", async () => {
  const c = await env.open({ channelMax: 2 });
  try {
    await c.openChannel(2000);
    await c.openChannel(65535);
    c.sendMethod(65535, M.basicQos, args.basicQos(0, 1));
    await c.expect(65535, M.basicQosOk);
  } finally {
    await c.close();
  }
});

// Unknown class/method ids and unknown field-table types: RabbitMQ 3.10 crashes the connection
// (the socket is closed, no connection.close). We pin only that the connection ends promptly and,
// if a frame comes first, that it is a connection.close with a hard-error code.
const undecodable: Array<[string, (c: RawClient) => void]> = [
  ["unknown class id", (c) => c.sendMethod(1, [99, 10])],
  ["unknown method id", (c) => c.sendMethod(1, [50, 99])],
  ["unknown connection method on channel 0", (c) => c.sendMethod(0, [10, 99])],
  ["unknown field-table value type", (c) => c.sendMethod(1, M.queueDeclare, args.queueDeclare(uniq("q"), { exclusive: true, arguments: { "x-foo": { type: "Z", value: Buffer.from([1, 2, 3]) } } }))],
];
for (const [name, misuse] of undecodable) {
  test(`${name}: the connection ends (socket closed)`, async () => {
    const c = await env.openWithChannel();
    try {
      misuse(c);
      const frames = await c.expectSocketClosed(5000).catch(async (e: unknown) => {
        // tolerate a broker that sends connection.close and waits for close-ok
        const f = c.frames[0];
        if (f && f.type === FRAME_METHOD && f.classId === 10 && f.methodId === 50) {
          c.sendMethod(0, M.connectionCloseOk);
          return c.expectSocketClosed(3000);
        }
        throw e;
      });
      for (const f of frames) {
        assert.ok(f.type === FRAME_METHOD && f.classId === 10 && f.methodId === 50, `only connection.close may arrive, got ${String(f.type)} ${f.classId}.${f.methodId}`);
        const code = f.payload.readUInt16BE(4);
        assert.ok([501, 502, 503, 540, 541].includes(code), `hard error code, got ${code}`);
      }
    } finally {
      c.destroy();
    }
    await assertBrokerUsable(env);
  });
}

// rabbit_reader: once it has sent connection.close, the server discards everything but
// close/close-ok, and closes the socket when close-ok arrives.
test("after the server's connection.close, other methods are ignored until close-ok", async () => {
  const c = await env.openWithChannel();
  try {
    c.send(frame(7, 1, Buffer.alloc(3)));
    const f = await c.next();
    assert.deepEqual([f.channel, f.classId, f.methodId], [0, 10, 50]);
    c.sendMethod(2, M.channelOpen, new Args().shortstr("").build());
    await c.expectSilence(300);
    c.sendMethod(0, M.connectionCloseOk);
    await c.expectSocketClosed();
  } finally {
    c.destroy();
  }
});

// rabbit_channel: after the server's channel.close, methods on that channel are discarded until
// the client's channel.close-ok; then the channel number can be opened again.
test("after the server's channel.close, methods on that channel are ignored until close-ok", async () => {
  const c = await env.openWithChannel();
  try {
    c.sendMethod(1, M.queueDeclare, args.queueDeclare(uniq("wire-missing"), { passive: true }));
    const f = await c.next();
    assert.deepEqual([f.channel, f.classId, f.methodId], [1, 20, 40]);
    c.sendMethod(1, M.queueDeclare, declareArgs());
    await c.expectSilence(300);
    c.sendMethod(1, M.channelCloseOk);
    await c.openChannel(1);
    c.sendMethod(1, M.queueDeclare, declareArgs());
    await c.expect(1, M.queueDeclareOk);
  } finally {
    await c.close();
  }
});

// Crossing closes (the Go client's TestChannelExceptionWithCloseIssue43): the server closes a
// channel (404) while the client is closing it. RabbitMQ 3.10 answers the client's close with
// close-ok, ignores the close-ok the client then sends for the server's close, and the
// connection, its other channels and the channel number stay usable.
test("crossing channel.close: close-ok for the client, its late close-ok ignored, channel reusable", async () => {
  const c = await env.openWithChannel();
  try {
    await c.openChannel(2);
    c.sendMethod(1, M.queueDeclare, args.queueDeclare(uniq("wire-missing"), { passive: true }));
    c.sendMethod(1, M.channelClose, args.channelClose(200, "client closing"));
    const f = await c.next();
    assert.deepEqual([f.channel, f.classId, f.methodId], [1, 20, 40], "the server's channel.close (404)");
    await c.expect(1, M.channelCloseOk);
    c.sendMethod(1, M.channelCloseOk);
    c.sendMethod(2, M.queueDeclare, declareArgs());
    await c.expect(2, M.queueDeclareOk);
    await c.openChannel(1);
    c.sendMethod(1, M.queueDeclare, declareArgs());
    await c.expect(1, M.queueDeclareOk);
  } finally {
    await c.close();
  }
});

// rabbit_reader: after the close-ok for a client's connection.close the server leaves the
// socket to the client (it closes it after reading close-ok), answers every further
// connection.close -- e.g. from other threads of the same client (amqp091-go's
// TestConcurrentClose) -- with close-ok, and ignores the rest: no EOF or reset under its feet.
test("two connection.close in a row: a close-ok each, then the socket stays open for the client to close", async () => {
  const c = await env.openWithChannel();
  try {
    c.sendMethod(0, M.connectionClose, args.channelClose(200, "first"));
    c.sendMethod(0, M.connectionClose, args.channelClose(200, "second"));
    await c.expect(0, M.connectionCloseOk);
    await c.expect(0, M.connectionCloseOk);
    c.sendMethod(1, M.queueDeclare, declareArgs()); // ignored
    await c.expectSilence(500);
    assert.equal(c.closed, false, "the server did not close the socket first");
  } finally {
    c.destroy();
  }
});

// rabbit_reader:close_connection: a client that got its close-ok but never closes the
// socket is disconnected after min(heartbeat, 30) seconds -- here 1 s.
test("a client that keeps the socket open after close-ok is disconnected after min(heartbeat, 30) s", async () => {
  const c = await env.open({ heartbeat: 1 });
  try {
    const t0 = Date.now();
    c.sendMethod(0, M.connectionClose, args.channelClose(200, "bye"));
    await c.expect(0, M.connectionCloseOk);
    await c.expectSocketClosed(6000);
    const waited = Date.now() - t0;
    assert.ok(waited >= 800, `closed after ${waited} ms: the client must get its chance to close first`);
  } finally {
    c.destroy();
  }
});

// Client-initiated connection.close gets close-ok.
test("client connection.close gets connection.close-ok", async () => {
  const c = await env.openWithChannel();
  try {
    c.sendMethod(0, M.connectionClose, args.channelClose(200, "bye"));
    await c.expect(0, M.connectionCloseOk);
  } finally {
    c.destroy();
  }
});

// A content header with body-size 0 completes the message: no body frame follows.
test("zero-length body needs no body frame", async () => {
  const c = await env.openWithChannel();
  try {
    const q = uniq("wire-zero");
    c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true }));
    await c.expect(1, M.queueDeclareOk);
    c.sendMethod(1, M.basicPublish, args.basicPublish("", q));
    c.send(headerFrame(1, 0));
    c.sendMethod(1, M.basicGet, args.basicGet(q, true));
    await c.expect(1, M.basicGetOk);
    const h = await c.next();
    assert.equal(h.type, 2);
    assert.equal(Number(h.payload.readBigUInt64BE(4)), 0);
  } finally {
    await c.close();
  }
});
