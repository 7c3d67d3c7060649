/**
 * Shared plumbing for the semantics suite: one broker per test file (its own
 * fresh vhost when run against a real RabbitMQ through WARREN_TEST_URL, via the
 * interop suite's interopBroker), amqplib connections and channels that are
 * closed at the end, and bounded waiting helpers.
 *
 * Owns: connection bookkeeping for the tests; nothing here asserts broker
 * behaviour. Note for test writers: RabbitMQ's queue process answers a passive
 * queue.declare (message count) ahead of publishes still in its mailbox, so a
 * count read right after publishing on a plain channel must be polled
 * (waitUntil); basic.get is ordered after the channel's publishes. Invariant: every wait has a deadline, so a test fails instead of
 * hanging, and every connection opened here is closed by `stop()`.
 */
import amqp from "amqplib";
import { AMQPClient } from "@cloudamqp/amqp-client";
import { interopBroker, Inbox, sleep, uniq, type InteropBroker } from "../interop/interop-helpers.js";
import { waitFor } from "../helpers/wait.js";

export { Inbox, sleep, uniq };

export class Sem {
  private readonly conns: amqp.ChannelModel[] = [];
  private readonly clients: AMQPClient[] = [];
  constructor(readonly broker: InteropBroker) {}

  get url(): string {
    return this.broker.url;
  }
  get external(): boolean {
    return this.broker.external;
  }

  /** A new amqplib connection (closed by stop()). Errors are recorded, not thrown. */
  async connect(): Promise<amqp.ChannelModel> {
    const c = await amqp.connect(this.url);
    c.on("error", () => {});
    this.conns.push(c);
    return c;
  }

  /** A channel on a new connection; its 'error' events are swallowed (use closedWith). */
  async channel(conn?: amqp.ChannelModel): Promise<amqp.Channel> {
    const c = conn ?? (await this.connect());
    const ch = await c.createChannel();
    ch.on("error", () => {});
    return ch;
  }

  async confirmChannel(conn?: amqp.ChannelModel): Promise<amqp.ConfirmChannel> {
    const c = conn ?? (await this.connect());
    const ch = await c.createConfirmChannel();
    ch.on("error", () => {});
    return ch;
  }

  /** An @cloudamqp/amqp-client connection (closed by stop()). */
  async client(): Promise<AMQPClient> {
    const c = new AMQPClient(this.url);
    await c.connect();
    this.clients.push(c);
    return c;
  }

  async stop(): Promise<void> {
    for (const c of this.conns) await c.close().catch(() => {});
    for (const c of this.clients) if (!c.closed) await c.close().catch(() => {});
    // dropping the per-file vhost goes through RabbitMQ's management API, which can be
    // slow on a loaded machine; that is not a failure of the behaviour under test
    await this.broker.stop().catch((e: unknown) => process.stderr.write(`semantics: broker stop: ${String(e)}\n`));
  }
}

export async function semBroker(tag: string): Promise<Sem> {
  return new Sem(await interopBroker(`sem-${tag}`));
}

/** Resolves with the reply code of the channel.close/connection.close that ends `ch`. */
export function closedWith(ch: amqp.Channel, ms = 3000): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("channel not closed by the server")), ms);
    ch.once("error", (e: { code?: number }) => {
      clearTimeout(t);
      resolve(e.code ?? -1);
    });
  });
}

/** Await a promise expected to reject with an AMQP error; returns its reply code. */
export async function rejectsWith(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: number }).code ?? -1;
  }
  throw new Error("expected the operation to fail");
}

/** basic.get until empty (no-ack); returns the bodies as strings. */
export async function drain(ch: amqp.Channel, q: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const m = await ch.get(q, { noAck: true });
    if (m === false) return out;
    out.push(m.content.toString());
  }
}

/** Poll `fn` until it returns true, or fail after `ms`. */
export async function waitUntil(fn: () => boolean | Promise<boolean>, ms = 3000, what = "condition"): Promise<void> {
  await waitFor(what, fn, ms);
}

/** Does the queue exist? (passive declare on a throwaway channel) */
export async function queueExists(conn: amqp.ChannelModel, q: string): Promise<boolean> {
  const ch = await conn.createChannel();
  ch.on("error", () => {});
  try {
    await ch.checkQueue(q);
    await ch.close();
    return true;
  } catch (e) {
    if ((e as { code?: number }).code === 404) return false;
    throw e;
  }
}

export async function exchangeExists(conn: amqp.ChannelModel, x: string): Promise<boolean> {
  const ch = await conn.createChannel();
  ch.on("error", () => {});
  try {
    await ch.checkExchange(x);
    await ch.close();
    return true;
  } catch (e) {
    if ((e as { code?: number }).code === 404) return false;
    throw e;
  }
}

export const body = (m: amqp.Message | null | false): string => (m ? m.content.toString() : String(m));
