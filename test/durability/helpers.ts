/**
 * Shared pieces of the durability tests (test/durability/*.test.ts): a warren
 * child process on a given data directory, self-checking message bodies, and
 * small amqplib conveniences.
 *
 * Owns: the body format (stream tag, sequence number, payload, SHA-256 digest)
 * that lets a test tell an intact message from a corrupted one without any
 * knowledge of the store; reading a child's RSS from /proc.
 * Does not own: the broker (a real `bin/warren.js server` child, see
 * test/helpers/broker.ts) or any assertion about what must survive.
 *
 * These tests need a broker they can kill -9 and restart, so they cannot run
 * against the shared RabbitMQ; each test comment names the RabbitMQ behaviour
 * it pins down.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import amqp from "amqplib";
import { startBrokerProcess, tempDir, type BrokerProcess } from "../helpers/broker.js";

export { tempDir };

/** Start `warren server` on `dataDir` without management/Fleet unless asked. */
export function startWarrenChild(dataDir: string, extraArgs: string[] = [], env: Record<string, string> = {}): Promise<BrokerProcess> {
  // later flags win in parseArgs, so these override startBrokerProcess's --mgmt-port 0
  return startBrokerProcess(dataDir, ["--mgmt-port", "off", "--no-fleet", "--disk-free-limit", "0", ...extraArgs], env);
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

// ---- self-checking bodies ------------------------------------------------------

const MAGIC = 0x57445552; // "WDUR"
const HEADER = 4 + 2 + 4 + 4; // magic, stream, seq, payload length
const DIGEST = 16;

/** A body that carries its stream number, its sequence number and a digest over both and the payload. */
export function makeBody(stream: number, seq: number, payloadLen: number): Buffer {
  const b = Buffer.allocUnsafe(HEADER + payloadLen + DIGEST);
  b.writeUInt32BE(MAGIC, 0);
  b.writeUInt16BE(stream, 4);
  b.writeUInt32BE(seq, 6);
  b.writeUInt32BE(payloadLen, 10);
  randomBytes(payloadLen).copy(b, HEADER);
  digest(b.subarray(0, HEADER + payloadLen)).copy(b, HEADER + payloadLen);
  return b;
}

export interface BodyInfo {
  stream: number;
  seq: number;
}

/** Parse and verify a body from makeBody; throws with a description if it is not intact. */
export function checkBody(b: Buffer): BodyInfo {
  if (b.length < HEADER + DIGEST) throw new Error(`body of ${b.length} bytes is too short`);
  if (b.readUInt32BE(0) !== MAGIC) throw new Error(`body has no magic (starts ${b.subarray(0, 8).toString("hex")})`);
  const payloadLen = b.readUInt32BE(10);
  if (b.length !== HEADER + payloadLen + DIGEST) throw new Error(`body length ${b.length}, expected ${HEADER + payloadLen + DIGEST}`);
  const want = digest(b.subarray(0, HEADER + payloadLen));
  if (!want.equals(b.subarray(HEADER + payloadLen))) throw new Error(`body digest mismatch (stream ${b.readUInt16BE(4)} seq ${b.readUInt32BE(6)})`);
  return { stream: b.readUInt16BE(4), seq: b.readUInt32BE(6) };
}

function digest(b: Buffer): Buffer {
  return createHash("sha256").update(b).digest().subarray(0, DIGEST);
}

// ---- amqplib ---------------------------------------------------------------------

/** Connect with errors swallowed (the broker is killed under these connections on purpose). */
export async function connect(url: string): Promise<amqp.ChannelModel> {
  const c = await amqp.connect(url);
  c.on("error", () => {});
  return c;
}

export async function closeQuietly(c: amqp.ChannelModel | null | undefined): Promise<void> {
  if (!c) return;
  await c.close().catch(() => {});
}

/**
 * Forget a connection whose broker was killed. amqplib's close() can wait forever
 * for a close-ok that a dead broker never sends (with nothing left to keep the
 * event loop alive), so destroy the socket and wait (bounded) for 'close'.
 */
export async function abandon(c: amqp.ChannelModel | null | undefined): Promise<void> {
  if (!c) return;
  const conn = (c as unknown as { connection?: { stream?: { destroyed?: boolean; destroy(): void } } }).connection;
  const stream = conn?.stream;
  if (stream === undefined || stream.destroyed === true) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 3000);
    c.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    stream.destroy();
  });
}

/** Publish persistent messages with confirms and wait for all of them; throws on a nack. */
export async function publishConfirmed(ch: amqp.ConfirmChannel, exchange: string, routingKey: string, bodies: Buffer[], persistent = true): Promise<void> {
  for (const b of bodies) ch.publish(exchange, routingKey, b, { persistent });
  await ch.waitForConfirms();
}

/**
 * Read every message currently in `queue` without acking it (they return to the
 * queue when the channel closes). Uses the passive declare's count, then waits
 * for exactly that many deliveries and a short quiet period for extras.
 */
export async function readAll(conn: amqp.ChannelModel, queue: string, timeoutMs = 20_000): Promise<amqp.ConsumeMessage[]> {
  const ch = await conn.createChannel();
  try {
    const { messageCount } = await ch.checkQueue(queue);
    const got: amqp.ConsumeMessage[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${queue}: got ${got.length}/${messageCount} messages in ${timeoutMs} ms`)), timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        // deliveries beyond the count would be a bug: give them a moment to show up
        setTimeout(resolve, 50);
      };
      ch.consume(
        queue,
        (m) => {
          if (m === null) return;
          got.push(m);
          if (got.length === messageCount) finish();
        },
        { noAck: false },
      ).then(() => {
        if (messageCount === 0) finish();
      }, reject);
    });
    return got;
  } finally {
    await ch.close().catch(() => {});
  }
}

/** Drain `queue` completely, acking everything; returns the messages in delivery order. */
export async function drainAll(conn: amqp.ChannelModel, queue: string, timeoutMs = 60_000): Promise<amqp.ConsumeMessage[]> {
  const ch = await conn.createChannel();
  try {
    await ch.prefetch(1000);
    const { messageCount } = await ch.checkQueue(queue);
    const got: amqp.ConsumeMessage[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${queue}: drained ${got.length}/${messageCount} in ${timeoutMs} ms`)), timeoutMs);
      ch.consume(queue, (m) => {
        if (m === null) return;
        got.push(m);
        ch.ack(m);
        if (got.length === messageCount) {
          clearTimeout(timer);
          resolve();
        }
      }).then(() => {
        if (messageCount === 0) {
          clearTimeout(timer);
          resolve();
        }
      }, reject);
    });
    // the acks must reach the broker before the caller closes anything
    await ch.checkQueue(queue);
    return got;
  } finally {
    await ch.close().catch(() => {});
  }
}

/** Resident set size of a process in bytes (Linux /proc). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Peak resident set size (VmHWM) of a process in bytes. */
export function peakRssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /VmHWM:\s+(\d+)\s+kB/.exec(status);
  if (!m) throw new Error(`no VmHWM for pid ${pid}`);
  return Number(m[1]) * 1024;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The broker's own recovery line: "recovered N durable queues and M messages in T ms". */
export function recoveryLine(stderr: string): { queues: number; messages: number; ms: number } | null {
  const m = /recovered (\d+) durable queues and (\d+) messages in (\d+) ms/.exec(stderr);
  return m ? { queues: Number(m[1]), messages: Number(m[2]), ms: Number(m[3]) } : null;
}
