/**
 * Wire conformance: authentication, tuning and connection.open.
 *
 * Pins down rabbit_reader's handshake error handling (RabbitMQ 3.10):
 * - a refused login (bad password or unknown user, mechanism PLAIN) is answered
 *   with connection.close 403 ACCESS_REFUSED only when the client announced the
 *   `authentication_failure_close` capability; otherwise the socket is held
 *   silent (RabbitMQ's SILENT_CLOSE_DELAY, 3 s) and then closed — also for a
 *   passwordless user presenting an empty password;
 * - an unknown mechanism, an unparsable PLAIN response or a start-ok larger
 *   than the 4096-octet minimum frame size is a handshake error that is not
 *   access_refused: no tune, no frame, the socket held silent, then closed;
 * - connection.open of an unknown vhost gets connection.close 530 NOT_ALLOWED
 *   "vhost X not found" (class 10, method 40);
 * - tune-ok outside the server's limits (frame_max below 4096 or above the
 *   server's, channel_max above the server's) ends the connection before open-ok;
 * - a channel frame before connection.open gets connection.close 505.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { RawClient, M, Args, FRAME_METHOD, type HandshakeOptions } from "../helpers/raw-client.js";
import { wireEnv, assertBrokerUsable, assertClose, uniq, type WireEnv } from "./wire-helpers.js";

let env: WireEnv;
before(async () => {
  env = await wireEnv();
});
after(async () => {
  await env.broker.stop();
});

async function startOk(o: HandshakeOptions): Promise<RawClient> {
  const c = await RawClient.connect(env.broker.port, env.broker.host);
  c.sendHeader();
  await c.expect(0, M.connectionStart);
  c.sendStartOk(o);
  return c;
}

async function tuned(): Promise<{ c: RawClient; channelMax: number; frameMax: number }> {
  const c = await startOk({});
  const t = await c.expect(0, M.connectionTune, 5000);
  const r = t.args!;
  return { c, channelMax: r.short(), frameMax: r.long() };
}

function tuneOk(c: RawClient, channelMax: number, frameMax: number): void {
  c.sendMethod(0, M.connectionTuneOk, new Args().short(channelMax).long(frameMax).short(0).build());
}

// RabbitMQ: with authentication_failure_close, a refused login gets connection.close 403 and a fixed text.
test("wrong password with authentication_failure_close: connection.close 403", async () => {
  const c = await startOk({ password: "definitely-wrong" });
  try {
    const close = await c.expectConnectionClose(403, 5000);
    assertClose(close, 403, "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.", 0, 0);
    await c.expectSocketClosed(5000);
  } finally {
    c.destroy();
  }
});

// RabbitMQ: same for a user that does not exist (no user enumeration).
test("unknown user with authentication_failure_close: connection.close 403", async () => {
  const c = await startOk({ user: uniq("nobody") });
  try {
    const close = await c.expectConnectionClose(403, 5000);
    assertClose(close, 403, "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.", 0, 0);
    await c.expectSocketClosed(5000);
  } finally {
    c.destroy();
  }
});

/**
 * A handshake error answered the RabbitMQ way: nothing at all for a while (RabbitMQ holds the
 * socket for 3 s; we require at least 1 s of silence, which a slow machine can only lengthen),
 * then the socket closes without a frame.
 */
async function expectHeldSilentThenClosed(c: RawClient): Promise<void> {
  await c.expectSilence(1000);
  const frames = await c.expectSocketClosed(8000);
  assert.deepEqual(
    frames.map((f) => [f.type, f.classId, f.methodId]),
    [],
  );
}

// RabbitMQ: without the capability, a refused login gets no connection.close: silence, then the socket closes.
test("wrong password without the capability: held silent, then socket closed", async () => {
  const c = await startOk({ password: "definitely-wrong", capabilities: {} });
  try {
    await expectHeldSilentThenClosed(c);
  } finally {
    c.destroy();
  }
});

// RabbitMQ: an empty password is refused like any wrong one (rabbit_auth_backend_internal never
// matches a passwordless user): silence then close without the capability, 403 with it.
test("empty password: held silent without the capability, connection.close 403 with it", async () => {
  const c = await startOk({ password: "", capabilities: {} });
  try {
    await expectHeldSilentThenClosed(c);
  } finally {
    c.destroy();
  }
  const d = await startOk({ password: "" });
  try {
    const close = await d.expectConnectionClose(403, 5000);
    assertClose(close, 403, "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.", 0, 0);
  } finally {
    d.destroy();
  }
});

// rabbit_reader: until tune-ok the frame limit is the protocol minimum (4096 octets): a larger
// start-ok is a frame error in the handshake — no tune, no frame, silence, then close.
test("start-ok larger than 4096 octets: no tune, held silent, socket closed", async () => {
  const c = await RawClient.connect(env.broker.port, env.broker.host);
  try {
    c.sendHeader();
    await c.expect(0, M.connectionStart);
    c.sendMethod(
      0,
      M.connectionStartOk,
      new Args()
        .table({ product: "warren raw test client", padding: "x".repeat(5000), capabilities: { authentication_failure_close: true } })
        .shortstr("PLAIN")
        .longstr("\0guest\0guest")
        .shortstr("en_US")
        .build(),
    );
    await expectHeldSilentThenClosed(c);
  } finally {
    c.destroy();
  }
});

// RabbitMQ: an unknown mechanism is a handshake error (not access_refused): silent close, even with the capability.
test("unsupported mechanism: held silent, then socket closed", async () => {
  const c = await startOk({ mechanism: "NO-SUCH-MECH" });
  try {
    await expectHeldSilentThenClosed(c);
  } finally {
    c.destroy();
  }
});

// RabbitMQ: a PLAIN response without the two NUL separators cannot be parsed: silent close.
test("malformed PLAIN response: held silent, then socket closed", async () => {
  const c = await RawClient.connect(env.broker.port, env.broker.host);
  try {
    c.sendHeader();
    await c.expect(0, M.connectionStart);
    c.sendMethod(0, M.connectionStartOk, new Args().table({}).shortstr("PLAIN").longstr("no-separators").shortstr("en_US").build());
    await expectHeldSilentThenClosed(c);
  } finally {
    c.destroy();
  }
});

// RabbitMQ: connection.open of a vhost that does not exist: connection.close 530 on connection.open.
test("unknown vhost: connection.close 530 NOT_ALLOWED", async () => {
  const { c, channelMax, frameMax } = await tuned();
  try {
    tuneOk(c, channelMax, frameMax);
    const vhost = uniq("no-such-vhost");
    c.sendOpen(vhost);
    const close = await c.expectConnectionClose(530);
    assertClose(close, 530, `NOT_ALLOWED - vhost ${vhost} not found`, 10, 40);
    await c.expectSocketClosed();
  } finally {
    c.destroy();
  }
});

// RabbitMQ: a tune-ok outside the server's limits never reaches open-ok; the socket is closed
// (3.10 sends no frame here; we only require that no open-ok and nothing but a connection.close arrive).
const badTunes: Array<[string, (cm: number, fm: number) => [number, number]]> = [
  ["frame_max below 4096", (cm) => [cm, 1024]],
  ["frame_max above the server's", (cm, fm) => [cm, fm * 2]],
  ["frame_max 0 (unlimited) when the server has a limit", (cm) => [cm, 0]],
  ["channel_max above the server's", (cm, fm) => [cm + 1, fm]],
];
for (const [name, pick] of badTunes) {
  test(`tune-ok with ${name}: connection ends before open-ok`, async () => {
    const { c, channelMax, frameMax } = await tuned();
    try {
      assert.ok(channelMax > 0 && channelMax < 65535, "server announces a channel_max");
      assert.ok(frameMax > 0, "server announces a frame_max");
      const [cm, fm] = pick(channelMax, frameMax);
      tuneOk(c, cm, fm);
      c.sendOpen(env.vhost);
      const frames = await c.expectSocketClosed(6000);
      for (const f of frames) {
        assert.ok(f.type === FRAME_METHOD && f.classId === 10 && f.methodId === 50, `only connection.close may arrive, got ${f.classId}.${f.methodId}`);
      }
    } finally {
      c.destroy();
    }
  });
}

// RabbitMQ: a channel frame after tune-ok but before connection.open is an unexpected frame (505).
test("channel.open before connection.open: connection.close 505", async () => {
  const { c, channelMax, frameMax } = await tuned();
  try {
    tuneOk(c, channelMax, frameMax);
    c.sendMethod(1, M.channelOpen, new Args().shortstr("").build());
    const close = await c.expectConnectionClose(505);
    assertClose(close, 505, "UNEXPECTED_FRAME - type 1, all octets = <<0,20,0,10,0>>", 0, 0);
    await c.expectSocketClosed();
  } finally {
    c.destroy();
  }
});

// RabbitMQ: server-chosen limits are what the test suite assumes elsewhere (frame_max 131072, channel_max 2047).
test("connection.tune announces channel_max 2047 and frame_max 131072", async () => {
  const { c, channelMax, frameMax } = await tuned();
  c.destroy();
  assert.equal(channelMax, 2047);
  assert.equal(frameMax, 131072);
});

test("the broker still accepts connections after handshake failures", async () => {
  await assertBrokerUsable(env);
});
