/**
 * Wire conformance: the 8-octet protocol header.
 *
 * Pins down rabbit_reader's handshake/2: "AMQP" 0 0 9 1 starts a connection
 * (connection.start on channel 0); "AMQP" 1 1 0 9 (the 0-9 header) is treated
 * as 0-9-1; any other header — another version, another protocol, garbage —
 * is refused by writing the supported header "AMQP" 0 0 9 1 and closing the
 * socket, without any frame. Also: a client that connects and sends nothing
 * but a partial header is not answered until the header is complete.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { RawClient, M, AMQP_HEADER, FRAME_METHOD } from "../helpers/raw-client.js";
import { wireEnv, assertBrokerUsable, type WireEnv } from "./wire-helpers.js";

let env: WireEnv;
before(async () => {
  env = await wireEnv();
});
after(async () => {
  await env.broker.stop();
});

async function refusedWith(header: Buffer): Promise<void> {
  const c = await RawClient.connect(env.broker.port, env.broker.host);
  try {
    c.sendHeader(header);
    const frames = await c.expectSocketClosed(5000);
    assert.equal(frames.length, 1, `exactly one reply, got ${frames.length}`);
    assert.equal(frames[0]!.type, "protocol-header");
    assert.deepEqual(frames[0]!.payload, AMQP_HEADER);
  } finally {
    c.destroy();
  }
}

// RabbitMQ: the 0-9-1 header gets connection.start (version 0-9, mechanisms incl. PLAIN, locales en_US).
test("AMQP 0-0-9-1 header gets connection.start", async () => {
  const c = await RawClient.connect(env.broker.port, env.broker.host);
  try {
    c.sendHeader(AMQP_HEADER);
    const start = await c.expect(0, M.connectionStart);
    const r = start.args!;
    assert.equal(r.octet(), 0, "version-major");
    assert.equal(r.octet(), 9, "version-minor");
    r.tableRaw();
    assert.match(r.longstr().toString(), /\bPLAIN\b/);
    assert.match(r.longstr().toString(), /\ben_US\b/);
  } finally {
    c.destroy();
  }
});

// RabbitMQ treats the AMQP 0-9 header ("AMQP" 1 1 0 9) as 0-9-1 and starts the connection.
test("AMQP 1-1-0-9 (0-9) header is accepted as 0-9-1", async () => {
  const c = await RawClient.connect(env.broker.port, env.broker.host);
  try {
    c.sendHeader(Buffer.from("AMQP\x01\x01\x00\x09", "latin1"));
    const f = await c.next(3000);
    assert.equal(f.type, FRAME_METHOD);
    assert.deepEqual([f.classId, f.methodId], [...M.connectionStart]);
  } finally {
    c.destroy();
  }
});

const refused: Array<[string, Buffer]> = [
  ["AMQP 0-0-9-0 (wrong revision)", Buffer.from("AMQP\x00\x00\x09\x00", "latin1")],
  ["AMQP 0-0-10-0", Buffer.from("AMQP\x00\x00\x0a\x00", "latin1")],
  ["AMQP 0-1-0-0 (AMQP 1.0 without the plugin)", Buffer.from("AMQP\x00\x01\x00\x00", "latin1")],
  ["AMQP 0-9-9-9", Buffer.from("AMQP\x00\x09\x09\x09", "latin1")],
  ["HTTP request line", Buffer.from("GET / HTTP/1.1\r\n\r\n", "latin1")],
  ["garbage", Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04])],
  ["lower-case amqp", Buffer.from("amqp\x00\x00\x09\x01", "latin1")],
];
for (const [name, header] of refused) {
  // RabbitMQ refuse_connection/2: write "AMQP" 0 0 9 1, then close the socket.
  test(`${name} is refused with the 0-9-1 header and a closed socket`, async () => {
    await refusedWith(header);
  });
}

// RabbitMQ waits for all 8 header octets before deciding anything.
test("a partial header gets no answer until it is complete", async () => {
  const c = await RawClient.connect(env.broker.port, env.broker.host);
  try {
    c.send(Buffer.from("AMQP\x00", "latin1"));
    await c.expectSilence(500);
    c.send(Buffer.from("\x00\x09\x01", "latin1"));
    await c.expect(0, M.connectionStart);
  } finally {
    c.destroy();
  }
});

// A method frame instead of a header is just a bad header to RabbitMQ.
test("a frame sent instead of the header is refused like a bad header", async () => {
  await refusedWith(Buffer.from([1, 0, 0, 0, 0, 0, 4, 0, 10, 0, 11, 0xce]));
});

test("the broker still accepts connections after refused headers", async () => {
  await assertBrokerUsable(env);
});
