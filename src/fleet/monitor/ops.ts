/**
 * Monitoring's RPC operations (`template.*`, `metrics.*`, `alerts.*`,
 * `silence.*`, `webhook.*`), as the collector answers them: the CLI sends
 * them signed to fleet.api like every Fleet request; the HTTP API calls the
 * same function. Argument checking lives here; behaviour in service.ts.
 */
import { MonitorError, type MonitorService } from "./service.js";

export const NOT_MONITOR = Symbol("not a monitoring op");

const str = (v: unknown, what: string): string => {
  if (typeof v !== "string" || !v) throw new MonitorError(`${what} is required`);
  return v;
};
const optStr = (v: unknown): string | undefined => (typeof v === "string" && v ? v : undefined);
const num = (v: unknown, what: string, dflt?: number): number => {
  if (v === undefined || v === null) {
    if (dflt === undefined) throw new MonitorError(`${what} is required`);
    return dflt;
  }
  const n = Number(v);
  if (!Number.isFinite(n)) throw new MonitorError(`${what} must be a number`);
  return n;
};

function target(b: Record<string, unknown>): { kind: "group" | "host"; target: string } {
  const g = optStr(b.group);
  const h = optStr(b.host);
  if (!!g === !!h) throw new MonitorError("say exactly one of --group or --host");
  return g ? { kind: "group", target: g } : { kind: "host", target: h! };
}

export function monitorOp(m: MonitorService, op: string, b: Record<string, unknown>, user: string): unknown {
  switch (op) {
    case "template.add":
      return m.addTemplate(b.doc, typeof b.source === "string" ? b.source : JSON.stringify(b.doc), user, optStr(b.name));
    case "template.list":
      return m.listTemplates();
    case "template.show":
      return m.showTemplate(str(b.name, "template name"));
    case "template.rm":
      return { removed: m.removeTemplate(str(b.name, "template name"), user) };
    case "template.assign": {
      const t = target(b);
      m.assign(str(b.name, "template name"), t.kind, t.target, num(b.priority, "priority", 0), user);
      return { assigned: true };
    }
    case "template.unassign": {
      const t = target(b);
      return { unassigned: m.unassign(str(b.name, "template name"), t.kind, t.target, user) };
    }
    case "template.effective":
      return m.effectiveFor(str(b.host, "host"));
    case "template.apply": {
      if (!Array.isArray(b.files)) throw new MonitorError("files is required");
      if (b.files.length > 500) throw new MonitorError("at most 500 template files");
      const files = (b.files as Array<Record<string, unknown>>).map((f) => ({ file: str(f.file, "file"), doc: f.doc, source: typeof f.source === "string" ? f.source : "" }));
      return m.applyDir(files, !!b.prune, user);
    }
    case "metrics.latest":
      return m.metricsLatest(str(b.host, "host"));
    case "metrics.series":
      return m.metricsSeries(str(b.host, "host"), str(b.item, "item"), num(b.sinceMs, "since", 3_600_000), b.stepMs === undefined ? undefined : num(b.stepMs, "step"));
    case "alerts.list":
      return m.alerts({ afterId: b.afterId === undefined ? undefined : num(b.afterId, "after"), host: optStr(b.host), limit: num(b.limit, "limit", 50) });
    case "alerts.ack":
      return m.ack(num(b.id, "event id"), String(b.comment ?? ""), user);
    case "silence.add":
      return m.addSilence({ host: optStr(b.host), group: optStr(b.group), rule: optStr(b.rule), forMs: num(b.forMs, "--for"), comment: optStr(b.comment) }, user);
    case "silence.list":
      return m.store.silences();
    case "silence.rm":
      m.removeSilence(num(b.id, "silence id"), user);
      return { removed: true };
    case "webhook.add":
      return m.addWebhook(
        {
          url: str(b.url, "url"),
          severity: optStr(b.severity),
          group: optStr(b.group),
          groupWaitMs: b.groupWaitMs === undefined ? undefined : num(b.groupWaitMs, "group wait"),
          repeatMs: b.repeatMs === undefined ? undefined : num(b.repeatMs, "repeat"),
        },
        user,
      );
    case "webhook.list":
      return m.store.webhooks();
    case "webhook.rm":
      m.removeWebhook(num(b.id, "webhook id"), user);
      return { removed: true };
    case "monitor.stats":
      return { ...m.stats, chunks: m.store.chunkStats() };
    default:
      return NOT_MONITOR;
  }
}
