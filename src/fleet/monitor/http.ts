/**
 * Monitoring's part of /api/fleet (called by src/fleet/http.ts once the
 * caller is authenticated and may use Fleet's vhost):
 *
 *   GET    templates                      list          POST templates {doc | source, name?}   add/replace
 *   GET    templates/NAME                 show          DELETE templates/NAME
 *   GET    templates/NAME/links                         POST templates/NAME/links {group | host, priority}
 *   DELETE templates/NAME/links?group=G | ?host=H
 *   POST   templates/apply {files: [{file, doc | source}], prune}
 *   GET    hosts/H/template               the effective template
 *   GET    hosts/H/metrics[?item=&since=&step=]   latest values, or one item's samples / aggregates
 *   GET    alerts[?host=&after=&limit=]   open alerts and events     POST alerts/ID/ack {comment}
 *   GET    alerts/stream                  server-sent events, one `alert` per new event
 *   GET|POST silences, DELETE silences/ID;  GET|POST webhooks, DELETE webhooks/ID
 *   GET    metrics/prometheus[?host=&group=&item=]
 *
 * Changes need the administrator (or fleet) tag, as submitting a task does.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseYaml } from "yaml";
import { parseDur } from "./template.js";
import { monitorOp } from "./ops.js";
import { MonitorError, type MonitorService } from "./service.js";
import type { AlertEvent } from "./protocol.js";

export interface MonitorHttpContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  user: { name: string; tags: string[] };
  send(status: number, body: unknown): void;
  readJson(): Promise<Record<string, unknown>>;
}

const canOperate = (tags: string[]): boolean => tags.includes("administrator") || tags.includes("fleet");

/** A template body given as text (`source`, YAML or JSON) or as a parsed `doc`. */
function docOf(b: Record<string, unknown>): { doc: unknown; source: string } {
  if (typeof b.source === "string") {
    try {
      return { doc: parseYaml(b.source, { maxAliasCount: 50 }), source: b.source };
    } catch (e) {
      throw new MonitorError(`source: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  if (b.doc === undefined) throw new MonitorError("give the template as source (YAML/JSON text) or doc (an object)");
  return { doc: b.doc, source: JSON.stringify(b.doc, null, 2) };
}

/** Handles `parts` (the path after /api/fleet/) when it is monitoring's; false otherwise. */
export async function monitorRoutes(m: MonitorService, parts: string[], c: MonitorHttpContext): Promise<boolean> {
  const method = c.req.method ?? "GET";
  const q = (k: string): string | undefined => c.url.searchParams.get(k) ?? undefined;
  const write = (): void => {
    if (!canOperate(c.user.tags)) throw new MonitorError("changing monitoring needs the administrator (or fleet) tag", 403);
  };
  const op = async (name: string, body: Record<string, unknown>, status = 200): Promise<true> => {
    c.send(status, monitorOp(m, name, body, c.user.name));
    return true;
  };
  const [r0, id, sub, subId] = parts;
  if (r0 === "templates") {
    if (id === "apply" && method === "POST") {
      write();
      const b = await c.readJson();
      const files = Array.isArray(b.files) ? (b.files as Array<Record<string, unknown>>).map((f) => ({ file: String(f.file ?? "template"), ...docOf(f) })) : undefined;
      return op("template.apply", { files, prune: !!b.prune });
    }
    if (!id) {
      if (method === "GET") return op("template.list", {});
      if (method === "POST") {
        write();
        const b = await c.readJson();
        return op("template.add", { ...docOf(b), ...(typeof b.name === "string" ? { name: b.name } : {}) }, 201);
      }
    } else if (!sub) {
      if (method === "GET") return op("template.show", { name: id });
      if (method === "DELETE") return (write(), op("template.rm", { name: id }));
    } else if (sub === "links") {
      if (method === "GET") return (c.send(200, m.showTemplate(id).links), true);
      write();
      if (method === "POST") {
        const b = await c.readJson();
        return op("template.assign", { name: id, group: b.group, host: b.host, priority: b.priority }, 201);
      }
      if (method === "DELETE") return op("template.unassign", { name: id, group: q("group"), host: q("host") });
    }
    throw new MonitorError("method not allowed", 405);
  }
  if (r0 === "hosts" && id && (sub === "template" || sub === "metrics") && method === "GET") {
    if (sub === "template") return op("template.effective", { host: id });
    const item = q("item");
    if (!item) return op("metrics.latest", { host: id });
    return op("metrics.series", { host: id, item, sinceMs: parseDur(q("since") ?? "1h", "since"), ...(q("step") ? { stepMs: parseDur(q("step"), "step") } : {}) });
  }
  if (r0 === "alerts") {
    if (!id && method === "GET") return op("alerts.list", { host: q("host"), afterId: q("after"), limit: q("limit") });
    if (id === "stream" && method === "GET") return (streamAlerts(m, c), true);
    if (id && sub === "ack" && method === "POST") {
      write();
      const b = await c.readJson();
      return op("alerts.ack", { id: Number(id), comment: b.comment });
    }
    throw new MonitorError("method not allowed", 405);
  }
  if (r0 === "silences" || r0 === "webhooks") {
    const kind = r0 === "silences" ? "silence" : "webhook";
    if (!id && method === "GET") return op(`${kind}.list`, {});
    write();
    if (!id && method === "POST") {
      const b = await c.readJson();
      if (kind === "silence" && b.for !== undefined) b.forMs = parseDur(b.for, "for");
      if (kind === "webhook" && b.groupWait !== undefined) b.groupWaitMs = parseDur(b.groupWait, "groupWait");
      if (kind === "webhook" && b.repeat !== undefined) b.repeatMs = parseDur(b.repeat, "repeat");
      return op(`${kind}.add`, b, 201);
    }
    if (id && !subId && method === "DELETE") return op(`${kind}.rm`, { id: Number(id) });
    throw new MonitorError("method not allowed", 405);
  }
  if (r0 === "metrics" && id === "prometheus" && method === "GET") {
    const text = m.prometheus({ host: q("host"), group: q("group"), item: q("item") });
    c.res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    c.res.end(text);
    return true;
  }
  return false;
}

/** Server-sent events: every new alert event as `alert`, until the client leaves. */
function streamAlerts(m: MonitorService, c: MonitorHttpContext): void {
  c.res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  const onAlert = (e: AlertEvent): void => void c.res.write(`event: alert\ndata: ${JSON.stringify(e)}\n\n`);
  const keepAlive = setInterval(() => c.res.write(": keep-alive\n\n"), 15_000);
  m.on("alert", onAlert);
  c.req.on("close", () => {
    m.off("alert", onAlert);
    clearInterval(keepAlive);
  });
}
