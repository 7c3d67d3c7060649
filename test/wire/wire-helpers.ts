/**
 * Shared set-up for the wire conformance tests (test/wire/*.test.ts).
 *
 * Owns: starting the broker under test (in-process warren or WARREN_TEST_URL),
 * opening raw clients on the right vhost, unique names, and the two recovery
 * checks every error test ends with: after a channel error the same connection
 * still works; after a connection error other connections still work.
 * Does not own any assertion about a specific error — those live in the tests.
 *
 * Run against warren (in-process):  node --test dist/test/wire/
 * Run against RabbitMQ (the spec):   rabbitmqctl add_vhost wire-test &&
 *   rabbitmqctl set_permissions -p wire-test guest ".*" ".*" ".*" &&
 *   WARREN_TEST_URL=amqp://guest:guest@127.0.0.1:5672/wire-test node --test dist/test/wire/
 * Error texts embed the vhost name, so tests take it from the URL (vhostOf).
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

export async function wireEnv(options: Record<string, unknown> = {}): Promise<WireEnv> {
  const broker = await startBroker({ options });
  const vhost = vhostOf(broker.url);
  const open = (o: HandshakeOptions = {}) => RawClient.open(broker.port, broker.host, { vhost, ...o });
  return {
    broker,
    vhost,
    open,
    openWithChannel: async () => {
      const c = await open();
      await c.openChannel(1);
      return c;
    },
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

// ---------------------------------------------------------------- table-driven error cases

export interface CaseCtx {
  env: WireEnv;
  /** the connection under test, channel 1 open */
  c: RawClient;
  vhost: string;
  /** unique names for this case */
  q: string;
  q2: string;
  x: string;
  x2: string;
  /** connections opened by setup (closed after the case) */
  others: RawClient[];
  /** exchanges and non-exclusive queues to delete after the case (they outlive connections) */
  exchanges: string[];
  queues: string[];
}

export interface ErrorCase {
  name: string;
  setup?: (ctx: CaseCtx) => Promise<void>;
  /** sends the offending frames on channel 1 */
  trigger: (ctx: CaseCtx) => void;
  scope: "channel" | "connection";
  code: number;
  text: string | RegExp | ((ctx: CaseCtx) => string | RegExp);
  classId: number;
  methodId: number;
}

export async function declareQueue(c: RawClient, ch: number, name: string, o: Parameters<typeof args.queueDeclare>[1] = {}): Promise<void> {
  c.sendMethod(ch, M.queueDeclare, args.queueDeclare(name, o));
  await c.expect(ch, M.queueDeclareOk);
}

export async function declareExchange(ctx: CaseCtx, name: string, type: string, o: Parameters<typeof args.exchangeDeclare>[2] = {}): Promise<void> {
  ctx.exchanges.push(name);
  ctx.c.sendMethod(1, M.exchangeDeclare, args.exchangeDeclare(name, type, o));
  await ctx.c.expect(1, M.exchangeDeclareOk);
}

/**
 * Runs one misuse on a fresh connection and checks the exact close (scope, code, text,
 * class-id, method-id). Channel errors: methods on the closed channel are ignored until
 * close-ok, then the same connection still works. Connection errors: the socket closes
 * after close-ok and a fresh connection still works.
 */
export async function runErrorCase(env: WireEnv, k: ErrorCase): Promise<void> {
  const c = await env.openWithChannel();
  const ctx: CaseCtx = { env, c, vhost: env.vhost, q: uniq("wq"), q2: uniq("wq2"), x: uniq("wx"), x2: uniq("wx2"), others: [], exchanges: [], queues: [] };
  try {
    if (k.setup) await k.setup(ctx);
    k.trigger(ctx);
    const text = typeof k.text === "function" ? k.text(ctx) : k.text;
    if (k.scope === "channel") {
      const close = await c.expectChannelClose(1, k.code);
      assertClose(close, k.code, text, k.classId, k.methodId);
      await assertConnectionUsable(c, 2);
    } else {
      const close = await c.expectConnectionClose(k.code);
      assertClose(close, k.code, text, k.classId, k.methodId);
      await c.expectSocketClosed(5000);
      await assertBrokerUsable(env);
    }
  } finally {
    c.destroy();
    for (const o of ctx.others) await o.close();
    if (ctx.exchanges.length || ctx.queues.length) {
      const d = await env.openWithChannel();
      for (const q of ctx.queues) {
        d.sendMethod(1, M.queueDelete, args.queueDelete(q));
        await d.expect(1, M.queueDeleteOk);
      }
      for (const x of ctx.exchanges) {
        d.sendMethod(1, M.exchangeDelete, args.exchangeDelete(x));
        await d.expect(1, M.exchangeDeleteOk);
      }
      await d.close();
    }
  }
}
