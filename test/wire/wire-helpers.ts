/**
 * Shared set-up for the wire conformance tests (test/wire/*.test.ts).
 *
 * Owns: starting the broker under test (in-process warren or WARREN_TEST_URL),
 * opening raw clients on the right vhost, unique names, and the two recovery
 * checks every error test ends with: after a channel error the same connection
 * still works; after a connection error other connections still work.
 * Does not own any assertion about a specific error — those live in the tests.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { startBroker, type TestBroker } from "../helpers/broker.js";
import { RawClient, M, args, vhostOf, type HandshakeOptions, type CloseInfo } from "../helpers/raw-client.js";

export interface WireEnv {
  broker: TestBroker;
  vhost: string;
  /** a new raw connection, handshake done, on the broker's vhost */
  open(o?: HandshakeOptions): Promise<RawClient>;
  /** a new raw connection with channel 1 open */
  openWithChannel(): Promise<RawClient>;
}

export async function wireEnv(): Promise<WireEnv> {
  const broker = await startBroker();
  const vhost = vhostOf(broker.url);
  const open = (o: HandshakeOptions = {}) => RawClient.open(broker.port, broker.host, { vhost, ...o });
  return {
    broker,
    vhost,
    open,
    openWithChannel: async () => { const c = await open(); await c.openChannel(1); return c; },
  };
}

/** A name nobody else (other runs, other engineers on the shared RabbitMQ) uses. */
export function uniq(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString("hex")}`;
}

/** "in vhost '/'" as RabbitMQ formats resource names in error texts. */
export function rs(kind: "queue" | "exchange", name: string, vhost: string): string {
  return `${kind} '${name}' in vhost '${vhost}'`;
}

export function assertClose(c: CloseInfo, code: number, text: string | RegExp, classId?: number, methodId?: number): void {
  assert.equal(c.replyCode, code, `reply-code (text ${JSON.stringify(c.replyText)})`);
  if (typeof text === "string") assert.equal(c.replyText, text);
  else assert.match(c.replyText, text);
  if (classId !== undefined) assert.equal(c.classId, classId, `class-id (text ${JSON.stringify(c.replyText)})`);
  if (methodId !== undefined) assert.equal(c.methodId, methodId, `method-id (text ${JSON.stringify(c.replyText)})`);
}

/** After a channel error: the connection is still usable (new channel, declare, delete). */
export async function assertConnectionUsable(c: RawClient, channel: number): Promise<void> {
  await c.openChannel(channel);
  const q = uniq("wire-alive");
  c.sendMethod(channel, M.queueDeclare, args.queueDeclare(q, { exclusive: true }));
  const ok = await c.expect(channel, M.queueDeclareOk);
  assert.equal(ok.args!.shortstr(), q);
  c.sendMethod(channel, M.queueDelete, args.queueDelete(q));
  await c.expect(channel, M.queueDeleteOk);
}

/** After a connection error: a fresh connection can still declare/publish/get. */
export async function assertBrokerUsable(env: WireEnv): Promise<void> {
  const c = await env.openWithChannel();
  try {
    const q = uniq("wire-alive");
    c.sendMethod(1, M.queueDeclare, args.queueDeclare(q, { exclusive: true }));
    await c.expect(1, M.queueDeclareOk);
    c.publish(1, "", q, "ping");
    c.sendMethod(1, M.basicGet, args.basicGet(q, true));
    await c.expect(1, M.basicGetOk);
  } finally {
    await c.close();
  }
}
