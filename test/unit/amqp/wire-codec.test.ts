/**
 * The codec spoken over real TCP to a real broker: a raw client built only
 * from our codec (frames.ts reader, gen/methods.ts, properties.ts,
 * field-table.ts) performs the handshake, declares a queue with arguments of
 * every field type, publishes a message whose headers hold every type (also a
 * non-UTF-8 longstr), gets it back and checks the property bytes are identical.
 *
 * Pins down: RabbitMQ accepts our frames and we decode RabbitMQ's (run with
 * WARREN_TEST_URL=amqp://guest:guest@127.0.0.1:5672/<vhost> to check against
 * RabbitMQ 3.10); a broker passes message properties through byte-exact; and a
 * truncated method is answered with connection.close 501 "FRAME_ERROR -
 * cannot decode <<...>>" naming the method, which is RabbitMQ's answer.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { FrameReader, PROTOCOL_HEADER } from "../../../src/amqp/frames.js";
import * as M from "../../../src/amqp/gen/methods.js";
import { decodeProperties, encodeContentHeaderFrame, encodeProperties, type BasicProperties } from "../../../src/amqp/properties.js";
import { Decimal, LongString, TypedValue, type FieldTable } from "../../../src/amqp/field-table.js";
import { startBroker } from "../../helpers/broker.js";

interface Frame {
  type: number;
  channel: number;
  payload: Buffer;
}

/** Minimal raw AMQP client: a queue of decoded frames and a way to await the next one. */
class RawClient {
  private frames: Frame[] = [];
  private waiters: ((f: Frame | null) => void)[] = [];
  private closed = false;
  private reader = new FrameReader(0);

  constructor(readonly sock: Socket) {
    sock.on("data", (chunk: Buffer) => {
      this.reader.push(chunk, {
        onFrame: (type, channel, buf, start, end) => {
          this.deliver({ type, channel, payload: Buffer.from(buf.subarray(start, end)) });
          return true;
        },
      });
    });
    sock.on("close", () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w(null);
    });
    sock.on("error", () => {});
  }

  private deliver(f: Frame): void {
    if (f.type === 8) return; // heartbeats
    const w = this.waiters.shift();
    if (w) w(f);
    else this.frames.push(f);
  }

  next(timeoutMs = 5000): Promise<Frame | null> {
    const f = this.frames.shift();
    if (f) return Promise.resolve(f);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("timeout waiting for a frame")), timeoutMs);
      this.waiters.push((x) => {
        clearTimeout(t);
        resolve(x);
      });
    });
  }

  /** Next frame must be method `id`; returns its decoded arguments. */
  async expect<K extends keyof M.MethodArgsMap>(id: K): Promise<M.MethodArgsMap[K]> {
    const f = await this.next();
    assert.ok(f, `connection closed while waiting for ${M.methodName(id)}`);
    assert.equal(f.type, 1);
    const got = f.payload.readUInt32BE(0);
    const args = M.decodeMethod(got, f.payload, 4, f.payload.length);
    assert.equal(M.methodName(got), M.methodName(id), JSON.stringify(args));
    return args as M.MethodArgsMap[K];
  }

  send(...bufs: Buffer[]): void {
    this.sock.write(Buffer.concat(bufs));
  }
}

async function open(url: string): Promise<RawClient> {
  const u = new URL(url);
  const sock = connect(Number(u.port || 5672), u.hostname);
  await new Promise<void>((resolve, reject) => {
    sock.once("connect", resolve);
    sock.once("error", reject);
  });
  const c = new RawClient(sock);
  c.send(PROTOCOL_HEADER);
  const start = await c.expect(M.CONNECTION_START);
  assert.equal(start.versionMajor, 0);
  assert.equal(start.versionMinor, 9);
  assert.ok(start.mechanisms.split(" ").includes("PLAIN"));
  assert.equal(typeof start.serverProperties.product === "string" || start.serverProperties.product instanceof LongString, true);
  const user = decodeURIComponent(u.username || "guest");
  const pass = decodeURIComponent(u.password || "guest");
  c.send(
    M.encodeConnectionStartOkFrame(0, {
      clientProperties: { product: "warren codec test", capabilities: { publisher_confirms: true } },
      mechanism: "PLAIN",
      response: Buffer.from(`\0${user}\0${pass}`),
    }),
  );
  const tune = await c.expect(M.CONNECTION_TUNE);
  c.send(M.encodeConnectionTuneOkFrame(0, { channelMax: 16, frameMax: tune.frameMax, heartbeat: 0 }));
  const vhost = decodeURIComponent(u.pathname.slice(1)) || "/";
  c.send(M.encodeConnectionOpenFrame(0, { virtualHost: vhost }));
  await c.expect(M.CONNECTION_OPEN_OK);
  c.send(M.encodeChannelOpenFrame(1));
  await c.expect(M.CHANNEL_OPEN_OK);
  return c;
}

const EVERY_TYPE: FieldTable = {
  S: "héllo",
  Sbad: new LongString(Buffer.from([0xff, 0xfe, 0x41])),
  t: true,
  b: new TypedValue("b", -5),
  B: new TypedValue("B", 200),
  s: new TypedValue("s", -300),
  u: new TypedValue("u", 60000),
  I: -70000,
  i: new TypedValue("i", 4000000000),
  l: 2 ** 40,
  lbig: 2n ** 62n,
  f: new TypedValue("f", 1.5),
  d: 2.25,
  dint: new TypedValue("d", 3),
  D: new Decimal(2, 12345),
  T: new TypedValue("T", 1700000000),
  x: Buffer.from([0, 1, 2, 255]),
  V: null,
  A: [1, "a", [true, null], { k: "v" }],
  F: { n: { m: 1 } },
};

test("handshake, declare with every arg type, publish/get with every header type: properties come back byte-exact", async () => {
  const broker = await startBroker();
  const c = await open(broker.url);
  try {
    c.send(M.encodeConfirmSelectFrame(1));
    await c.expect(M.CONFIRM_SELECT_OK);
    c.send(M.encodeQueueDeclareFrame(1, { queue: "", exclusive: true, arguments: { ...EVERY_TYPE, "x-max-length": 10 } }));
    const ok = await c.expect(M.QUEUE_DECLARE_OK);
    assert.match(ok.queue, /^amq\.gen-/);
    assert.equal(ok.messageCount, 0);

    const props: BasicProperties = {
      contentType: "application/octet-stream",
      headers: EVERY_TYPE,
      deliveryMode: 1,
      priority: 3,
      correlationId: "corr",
      replyTo: "reply",
      expiration: "60000",
      messageId: "mid-ü",
      timestamp: 1700000000,
      type: "t",
      appId: "app",
    };
    const raw = encodeProperties(props);
    const body = Buffer.from("payload");
    c.send(M.encodeBasicPublishFrame(1, { routingKey: ok.queue, mandatory: true }), encodeContentHeaderFrame(1, M.CLASS_BASIC, body.length, raw), bodyFrame(1, body));
    const ack = await c.expect(M.BASIC_ACK);
    assert.deepEqual(ack, { deliveryTag: 1, multiple: false });

    c.send(M.encodeBasicGetFrame(1, { queue: ok.queue }));
    const got = await c.expect(M.BASIC_GET_OK);
    assert.deepEqual(got, { deliveryTag: 1, redelivered: false, exchange: "", routingKey: ok.queue, messageCount: 0 });
    const header = await c.next();
    assert.ok(header && header.type === 2);
    assert.equal(header.payload.readUInt16BE(0), M.CLASS_BASIC);
    assert.equal(header.payload.readUInt32BE(8), body.length);
    const rawBack = header.payload.subarray(12);
    assert.deepEqual(rawBack, raw, "property bytes passed through untouched");
    assert.deepEqual(decodeProperties(header.payload, 12, header.payload.length), { ...props, contentEncoding: undefined, userId: undefined, clusterId: undefined });
    const bodyBack = await c.next();
    assert.ok(bodyBack && bodyBack.type === 3);
    assert.deepEqual(bodyBack.payload, body);

    c.send(M.encodeBasicGetFrame(1, { queue: ok.queue }));
    assert.deepEqual(await c.expect(M.BASIC_GET_EMPTY), { clusterId: "" });

    c.send(M.encodeConnectionCloseFrame(0, { replyCode: 200, replyText: "bye" }));
    await c.expect(M.CONNECTION_CLOSE_OK);
  } finally {
    c.sock.destroy();
    await broker.stop();
  }
});

test("a truncated method is answered with connection.close 501 'cannot decode' for that method", async () => {
  const broker = await startBroker();
  const c = await open(broker.url);
  try {
    // queue.declare cut inside the queue name: ticket 0, length 5, two bytes "ab"
    const payload = Buffer.from("0032000a0000056162", "hex");
    const f = Buffer.alloc(payload.length + 8);
    f[0] = 1;
    f.writeUInt16BE(1, 1);
    f.writeUInt32BE(payload.length, 3);
    payload.copy(f, 7);
    f[f.length - 1] = 0xce;
    c.send(f);
    const close = await c.expect(M.CONNECTION_CLOSE);
    assert.deepEqual(close, { replyCode: 501, replyText: "FRAME_ERROR - cannot decode <<0,0,5,97,98>>", classId: 50, methodId: 10 });
    c.send(M.encodeConnectionCloseOkFrame(0));
  } finally {
    c.sock.destroy();
    await broker.stop();
  }
});

function bodyFrame(channel: number, body: Buffer): Buffer {
  const f = Buffer.alloc(body.length + 8);
  f[0] = 3;
  f.writeUInt16BE(channel, 1);
  f.writeUInt32BE(body.length, 3);
  body.copy(f, 7);
  f[f.length - 1] = 0xce;
  return f;
}
