/**
 * Wire fuzz: the broker survives hostile bytes and keeps serving good clients.
 *
 * Many short raw connections each send one of: random bytes; a valid header
 * followed by random bytes; a valid handshake followed by random but
 * plausible frames; or a valid pipelined session mutated (bit flips,
 * truncation, changed length fields, changed frame-end octets, inserted or
 * deleted slices), written in random chunk splits. Meanwhile a well-behaved
 * amqplib client publishes and consumes on its own connection.
 *
 * Asserts (RabbitMQ's robustness, which warren must match): every byte the
 * server sends to a fuzzed connection parses as frames or a protocol header;
 * every fuzzed connection ends within its time box (closed by the server, or
 * still open and then closed by us — both fine); the good client's traffic
 * keeps flowing through every 2-second window and loses nothing; at the end a
 * fresh connection can declare/publish/get.
 *
 * Deterministic: WARREN_FUZZ_SEED (default 0x5eed) drives every choice and is
 * printed. Bounded: WARREN_FUZZ_ATTEMPTS (default 2000) and WARREN_FUZZ_MS
 * (default 20000), whichever comes first.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { RawClient, M, Args, args, frame, methodFrame, headerFrame, bodyFrame, AMQP_HEADER, FRAME_METHOD } from "../helpers/raw-client.js";
import { wireEnv, assertBrokerUsable, uniq, type WireEnv } from "./wire-helpers.js";

const SEED = Number(process.env.WARREN_FUZZ_SEED ?? 0x5eed);
const ATTEMPTS = Number(process.env.WARREN_FUZZ_ATTEMPTS ?? 2000);
const BUDGET_MS = Number(process.env.WARREN_FUZZ_MS ?? 20_000);
const WORKERS = 32;
/** how long a fuzzed connection may live before we end it ourselves */
const CONN_BOX_MS = 1000;

let env: WireEnv;
before(async () => {
  env = await wireEnv();
});
after(async () => {
  await env.broker.stop();
});

/** mulberry32: tiny deterministic PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Fuzz {
  constructor(readonly r: () => number) {}
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

const KNOWN_METHODS = Object.values(M);

/** A whole valid session, pipelined without waiting for replies (legal for a server that reads in order). */
function validSession(f: Fuzz, vhost: string, tune: { channelMax: number; frameMax: number }): Buffer {
  const q = `fuzz-${f.int(1e9)}`;
  const body = f.bytes(f.int(300));
  return Buffer.concat([
    AMQP_HEADER,
    methodFrame(
      0,
      M.connectionStartOk,
      new Args()
        .table({ product: "fuzz", capabilities: { authentication_failure_close: true } })
        .shortstr("PLAIN")
        .longstr("\0guest\0guest")
        .shortstr("en_US")
        .build(),
    ),
    methodFrame(0, M.connectionTuneOk, new Args().short(tune.channelMax).long(tune.frameMax).short(0).build()),
    methodFrame(0, M.connectionOpen, new Args().shortstr(vhost).shortstr("").bit(false).build()),
    methodFrame(1, M.channelOpen, new Args().shortstr("").build()),
    methodFrame(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true, arguments: { "x-message-ttl": 60000, "x-max-length": 10 } })),
    methodFrame(1, M.basicPublish, args.basicPublish("", q)),
    headerFrame(1, body.length, { deliveryMode: 2, headers: { a: 1, b: "x", c: [1, "y"], d: { e: true } } }),
    bodyFrame(1, body),
    methodFrame(1, M.basicGet, args.basicGet(q, false)),
    methodFrame(1, M.basicAck, args.basicAck(1)),
    methodFrame(1, M.basicConsume, args.basicConsume(q, "c1")),
    methodFrame(1, M.basicCancel, args.basicCancel("c1")),
    methodFrame(1, M.queueDelete, args.queueDelete(q)),
    methodFrame(1, M.channelClose, args.channelClose()),
    methodFrame(0, M.connectionClose, args.channelClose()),
  ]);
}

/** Offsets of frame starts in a session buffer (after the 8-octet header). */
function frameOffsets(b: Buffer): number[] {
  const out: number[] = [];
  for (let p = 8; p + 7 <= b.length; ) {
    out.push(p);
    p += 8 + b.readUInt32BE(p + 3);
  }
  return out;
}

function mutate(f: Fuzz, s: Buffer): Buffer {
  let b = Buffer.from(s);
  const rounds = 1 + f.int(3);
  for (let i = 0; i < rounds; i++) {
    const offs = frameOffsets(b);
    const at = offs.length ? f.pick(offs) : 8;
    switch (f.int(7)) {
      case 0: {
        // bit flips
        for (let k = 0, n = 1 + f.int(4); k < n; k++) {
          const p = f.int(b.length);
          b[p] = b[p]! ^ (1 << f.int(8));
        }
        break;
      }
      case 1:
        b = b.subarray(0, f.int(b.length));
        break; // truncation
      case 2:
        if (at + 7 <= b.length) b.writeUInt32BE(f.pick([0, 1, 3, 0x7fffffff, 0xffffffff, f.int(1 << 20), (b.readUInt32BE(at + 3) + f.int(9) - 4) >>> 0]), at + 3);
        break; // length field
      case 3:
        if (at + 7 <= b.length) {
          const end = at + 7 + b.readUInt32BE(at + 3);
          if (end < b.length) b[end] = f.int(256);
        }
        break; // frame-end
      case 4: {
        const p = f.int(b.length);
        b = Buffer.concat([b.subarray(0, p), f.bytes(1 + f.int(32)), b.subarray(p)]);
        break;
      } // insert
      case 5: {
        const p = f.int(b.length);
        b = Buffer.concat([b.subarray(0, p), b.subarray(p + 1 + f.int(16))]);
        break;
      } // delete
      default:
        if (at + 3 <= b.length) b.writeUInt16BE(f.pick([0, 1, 2, 65535, f.int(65536)]), at + 1); // channel number
    }
  }
  return b;
}

function randomFrame(f: Fuzz): Buffer {
  const ch = f.pick([0, 1, 1, 1, 2, 65535]);
  switch (f.int(5)) {
    case 0: {
      const id = f.pick(KNOWN_METHODS);
      return methodFrame(ch, id, f.bytes(f.int(40)));
    }
    case 1:
      return frame(FRAME_METHOD, ch, Buffer.concat([Buffer.from([0, f.int(100), 0, f.int(130)]), f.bytes(f.int(20))]));
    case 2:
      return headerFrame(ch, f.int(1000), f.int(2) ? { deliveryMode: f.int(4) } : {});
    case 3:
      return bodyFrame(ch, f.bytes(f.int(100)));
    default:
      return frame(f.pick([1, 2, 3, 4, 8, 9, 0xce, 255]), ch, f.bytes(f.int(30)), f.int(8) ? 0xce : f.int(256));
  }
}

interface Outcome {
  serverClosed: boolean;
  bytesIn: number;
}

async function fuzzOnce(f: Fuzz, tune: { channelMax: number; frameMax: number }): Promise<Outcome> {
  const kind = f.int(4);
  const c = await RawClient.connect(env.broker.port, env.broker.host);
  try {
    let payload: Buffer;
    if (kind === 0) payload = f.bytes(1 + f.int(512));
    else if (kind === 1) payload = Buffer.concat([AMQP_HEADER, f.bytes(f.int(512))]);
    else if (kind === 2) {
      // a real handshake first, then random plausible frames
      await c.handshake({ vhost: env.vhost });
      if (f.int(2)) await c.openChannel(1);
      const frames: Buffer[] = [];
      for (let i = 0, n = 1 + f.int(6); i < n; i++) frames.push(randomFrame(f));
      payload = Buffer.concat(frames);
    } else payload = mutate(f, validSession(f, env.vhost, tune));
    // write in random chunk splits
    for (let p = 0; p < payload.length && !c.closed; ) {
      const n = 1 + f.int(Math.max(1, payload.length - p));
      c.send(payload.subarray(p, p + n));
      p += n;
      if (f.int(4) === 0) await new Promise((r) => setImmediate(r));
    }
    await c.expectSocketClosed(CONN_BOX_MS).catch(() => undefined);
    assert.equal(c.parseError, undefined, "server bytes must parse as frames");
    return { serverClosed: c.closed, bytesIn: c.bytesIn };
  } finally {
    c.destroy();
  }
}

test(`fuzzed connections never take the broker down (seed ${SEED})`, { timeout: BUDGET_MS + 60_000 }, async (t) => {
  t.diagnostic(`WARREN_FUZZ_SEED=${SEED} attempts<=${ATTEMPTS} budget=${BUDGET_MS}ms`);
  console.log(`# fuzz seed ${SEED} (set WARREN_FUZZ_SEED to reproduce)`);
  const probe = await env.open();
  const tune = { channelMax: probe.tune!.channelMax, frameMax: probe.tune!.frameMax };
  await probe.close();

  // the well-behaved client
  const conn = await amqp.connect(env.broker.url);
  let goodError: unknown;
  conn.on("error", (e) => {
    goodError = e;
  });
  const ch = await conn.createConfirmChannel();
  const q = uniq("fuzz-good");
  await ch.assertQueue(q, { exclusive: true });
  let published = 0;
  let received = 0;
  await ch.consume(
    q,
    () => {
      received++;
    },
    { noAck: true },
  );
  let stop = false;
  const publisher = (async () => {
    while (!stop && !goodError) {
      ch.publish("", q, Buffer.from(`m${published}`));
      published++;
      await ch.waitForConfirms();
      // pacing, not waiting: the good client keeps a steady trickle while the fuzzers run
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const windows: number[] = [];
  let last = 0;
  const sampler = setInterval(() => {
    windows.push(received - last);
    last = received;
  }, 2000);

  const stats = { attempts: 0, serverClosed: 0, leftOpen: 0, answered: 0 };
  const deadline = Date.now() + BUDGET_MS;
  const master = rng(SEED);
  const seeds = Array.from({ length: ATTEMPTS }, () => Math.floor(master() * 2 ** 32));
  let next = 0;
  const worker = async () => {
    while (next < seeds.length && Date.now() < deadline) {
      const f = new Fuzz(rng(seeds[next++]!));
      const o = await fuzzOnce(f, tune);
      stats.attempts++;
      if (o.serverClosed) stats.serverClosed++;
      else stats.leftOpen++;
      if (o.bytesIn > 0) stats.answered++;
    }
  };
  try {
    await Promise.all(Array.from({ length: WORKERS }, worker));
  } finally {
    stop = true;
    clearInterval(sampler);
    await publisher.catch((e: unknown) => {
      goodError ??= e;
    });
  }
  t.diagnostic(`fuzz stats ${JSON.stringify(stats)} good client published=${published} received=${received} windows=${JSON.stringify(windows)}`);
  console.log(`# fuzz stats ${JSON.stringify(stats)} published=${published} received=${received}`);

  assert.equal(goodError, undefined, `the good client saw an error: ${String(goodError)}`);
  // drain: everything confirmed must arrive
  const drainUntil = Date.now() + 5000;
  while (received < published && Date.now() < drainUntil) await new Promise((r) => setTimeout(r, 50));
  assert.equal(received, published, "the good client lost messages");
  assert.ok(stats.attempts >= Math.min(ATTEMPTS, 300), `too few fuzz attempts ran: ${stats.attempts}`);
  assert.ok(windows.length >= 1 && windows.every((n) => n > 0), `good traffic stalled in some 2 s window: ${JSON.stringify(windows)}`);
  await conn.close();
  await assertBrokerUsable(env);
});
