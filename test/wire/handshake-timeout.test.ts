/**
 * The handshake timeout.
 *
 * Pins down RabbitMQ's handshake_timeout (10 s by default): a client that opens a connection
 * and then leaves the broker waiting in the handshake is closed, without a frame (the handshake
 * never reached the point where connection.close could be sent).
 *
 * And a warren-specific guarantee (skipped against an external broker): the 10 s are the
 * client's silence, judged after the broker has read what is already in its socket. A broker
 * whose event loop was busy for longer than that (10,000 agents connecting at once) used to time
 * out clients whose start-ok sat unread in its own buffers; here the test blocks the (shared,
 * in-process) event loop itself right after sending start-ok, and the handshake still completes.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Args, RawClient, M } from "../helpers/raw-client.js";
import { wireEnv, type WireEnv } from "./wire-helpers.js";

let env: WireEnv;
before(async () => {
  env = await wireEnv();
});
after(async () => {
  await env.broker.stop();
});

test("a client silent after connection.start is closed after the handshake timeout (10 s)", async () => {
  const c = await RawClient.connect(env.broker.port, env.broker.host);
  try {
    const t0 = Date.now();
    c.sendHeader();
    await c.expect(0, M.connectionStart);
    const frames = await c.expectSocketClosed(20_000);
    const waited = Date.now() - t0;
    assert.equal(frames.length, 0, "no frame after connection.start");
    assert.ok(waited >= 9_000, `closed after ${waited} ms, before the 10 s handshake timeout`);
  } finally {
    c.destroy();
  }
});

test("a busy broker does not time out a client whose reply is already in its socket", async (t) => {
  if (env.broker.external) return t.skip("needs the in-process broker (blocks its event loop)");
  const c = await RawClient.connect(env.broker.port, env.broker.host);
  try {
    c.sendHeader();
    await c.expect(0, M.connectionStart);
    c.sendStartOk();
    // The broker (same process) cannot run for 10.5 s: its handshake timer is overdue and the
    // start-ok is waiting, unread, in its socket.
    const until = Date.now() + 10_500;
    while (Date.now() < until) {
      /* busy: the event loop does not turn */
    }
    const tune = await c.expect(0, M.connectionTune, 10_000);
    const r = tune.args!;
    const channelMax = r.short();
    const frameMax = r.long();
    c.sendMethod(0, M.connectionTuneOk, new Args().short(channelMax).long(frameMax).short(0).build());
    c.sendOpen(env.vhost);
    await c.expect(0, M.connectionOpenOk, 10_000);
  } finally {
    c.destroy();
  }
});
