/**
 * The CLI's client for the collector: RPC over AMQP exactly as in the seeds
 * (an exclusive server-named reply queue, reply_to + correlation_id), to the
 * durable fleet.api queue. Every call, reads included, is signed with the
 * operator key: the collector answers nobody else. Requests carry a TTL equal to our wait, so a collector
 * that comes back later never acts on a request nobody waits for any more.
 */
import type { Channel, ChannelModel, ConsumeMessage } from "amqplib";
import { randomUUID } from "node:crypto";
import { connect, describeError, redact } from "./conn.js";
import type { RequestPayload } from "./protocol.js";
import { signPayload, type OperatorKey } from "./sign.js";
import { API_QUEUE } from "./topology.js";

export class RpcError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export class FleetClient {
  private waiting = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private replyQueue = "";
  private constructor(
    private readonly conn: ChannelModel,
    private readonly ch: Channel,
    private readonly timeoutMs: number,
  ) {}

  /** WARREN_FLEET_RPC_TIMEOUT (ms) overrides the 20 s wait for the collector's answer. */
  static async open(url: string, timeoutMs = Number(process.env.WARREN_FLEET_RPC_TIMEOUT) || 20_000): Promise<FleetClient> {
    let conn: ChannelModel;
    try {
      conn = await connect(url, "fleet-cli", 15_000); // an operator at a prompt: say "unreachable" sooner than an agent would give up
    } catch (e) {
      throw new RpcError(`cannot connect to ${redact(url)}: ${describeError(e)}`, 503);
    }
    const ch = await conn.createChannel();
    ch.on("error", () => {});
    const c = new FleetClient(conn, ch, timeoutMs);
    const q = await ch.assertQueue("", { exclusive: true, autoDelete: true });
    c.replyQueue = q.queue;
    await ch.consume(q.queue, (m) => m && c.onReply(m), { noAck: true });
    ch.on("return", (m: ConsumeMessage) =>
      c.fail(String(m.properties.correlationId), new RpcError("no Fleet collector on this broker (queue fleet.api missing): start `warren server` or `warren collector`", 503)),
    );
    conn.on("close", () => {
      for (const id of [...c.waiting.keys()]) c.fail(id, new RpcError("connection to the broker closed", 503));
    });
    return c;
  }

  /** Live-event streams (watch.ts) arriving on our reply queue, by stream id. */
  private streams = new Map<string, (body: unknown) => void>();

  /** Route messages with correlation_id `streamId` to `fn` until the returned function is called. */
  openStream(fn: (body: unknown) => void): { id: string; close(): void } {
    const id = randomUUID();
    this.streams.set(id, fn);
    return { id, close: () => void this.streams.delete(id) };
  }

  private onReply(m: ConsumeMessage): void {
    const id = String(m.properties.correlationId);
    const stream = this.streams.get(id);
    if (stream) {
      try {
        stream(JSON.parse(m.content.toString()) as unknown);
      } catch {
        /* a malformed event: the next progress or the final view will tell */
      }
      return;
    }
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    clearTimeout(w.timer);
    try {
      const r = JSON.parse(m.content.toString()) as { ok: boolean; data?: unknown; error?: string; status?: number };
      if (r.ok) w.resolve(r.data);
      else w.reject(new RpcError(r.error ?? "request failed", r.status ?? 500));
    } catch (e) {
      w.reject(e as Error);
    }
  }

  private fail(id: string, e: Error): void {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    clearTimeout(w.timer);
    w.reject(e);
  }

  private send(body: Buffer): Promise<unknown> {
    const id = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(id, new RpcError(`the Fleet collector did not answer within ${this.timeoutMs} ms (is it running?)`, 504)), this.timeoutMs);
      this.waiting.set(id, { resolve, reject, timer });
      this.ch.publish("", API_QUEUE, body, { replyTo: this.replyQueue, correlationId: id, expiration: String(this.timeoutMs), mandatory: true, contentType: "application/json" });
    });
  }

  private signer: { key: OperatorKey; user: string } | undefined;

  /** The key and operator name `call` signs with. */
  signAs(key: OperatorKey, user: string): void {
    this.signer = { key, user };
  }

  /** A read, signed with the key given to signAs (the collector answers only signed requests). */
  call<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    if (!this.signer) return Promise.reject(new RpcError("no operator key to sign the request with", 3));
    return this.signed<T>(this.signer.key, this.signer.user, op, args);
  }

  signed<T>(key: OperatorKey, user: string, op: string, body: Record<string, unknown>): Promise<T> {
    const now = Date.now();
    const p: RequestPayload = { v: 1, kind: "request", op, nonce: randomUUID(), issuedAt: now, exp: now + 60_000, user, body };
    return this.send(Buffer.from(JSON.stringify(signPayload(key, p)))) as Promise<T>;
  }

  async close(): Promise<void> {
    await this.conn.close().catch(() => {});
  }
}
