/**
 * Shared pieces of the attack suite (test/security/): a bystander that keeps publishing
 * with confirms while an attack runs and records how long each round trip took, and raw
 * HTTP requests whose headers the test controls completely (fetch adds its own).
 */
import http from "node:http";
import amqp from "amqplib";

export interface BystanderReport {
  roundTrips: number;
  /** the longest single publish → confirm round trip, ms */
  worstMs: number;
  errors: string[];
}

/** Publish one message and wait for its confirm, over and over, until stop() is called. */
export async function startBystander(url: string): Promise<{ stop(): Promise<BystanderReport> }> {
  const conn = await amqp.connect(url);
  const ch = await conn.createConfirmChannel();
  const q = (await ch.assertQueue("", { exclusive: true })).queue;
  let running = true;
  const report: BystanderReport = { roundTrips: 0, worstMs: 0, errors: [] };
  const loop = (async () => {
    while (running) {
      const t = Date.now();
      try {
        ch.sendToQueue(q, Buffer.from("tick"));
        await ch.waitForConfirms();
      } catch (e) {
        report.errors.push((e as Error).message);
        return;
      }
      report.worstMs = Math.max(report.worstMs, Date.now() - t);
      report.roundTrips++;
      if (report.roundTrips % 50 === 0) await ch.purgeQueue(q);
      // pacing, not waiting: one probe round trip every 20 ms while the attack runs
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      await conn.close().catch(() => {});
      return report;
    },
  };
}

export interface RawReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP request with exactly these headers (plus Host) and an optional body. */
export function rawRequest(base: string, method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Promise<RawReply> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path, headers, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

export const basic = (user: string, pass: string): string => "Basic " + Buffer.from(`${user}:${pass}`).toString("base64");

export async function waitFor<T>(f: () => T | undefined | false | Promise<T | undefined | false>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
