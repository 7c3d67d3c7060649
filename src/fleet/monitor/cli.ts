/**
 * Monitoring's CLI verbs: `warren template …`, `warren metrics …`,
 * `warren alerts …`, `warren silence …`. Template files (YAML or JSON) are
 * read and parsed here (npm `yaml`, with its alias limits) and validated by
 * the collector, which is the authority; everything goes as signed RPC.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { parseDuration, parseIntArg, str, UsageError, type FlagSpec, type Parsed } from "../args.js";
import type { FleetClient } from "../rpc.js";
import type { AlertEvent } from "./protocol.js";
import { MAX_TEMPLATE_BYTES, type EffectiveTemplate } from "./template.js";

export interface MonitorIo {
  out(s: string): void;
  err(s: string): void;
}

export const MONITOR_HELP: Record<string, string> = {
  template: `warren template add FILE [--name N]         create or replace a template (YAML or JSON)
warren template list | show NAME | rm NAME
warren template assign NAME (--group G | --host H) [--priority P]
warren template unassign NAME (--group G | --host H)
warren template effective HOST              the merged template that HOST's agent runs
warren template apply DIR [--prune]         config as code: the templates (and their assign:) in DIR`,
  metrics: `warren metrics HOST [ITEM] [--since 1h] [--step 1m] [--follow] [--json]
  Without ITEM: the host's latest value of every item. With ITEM: its samples (or --step aggregates).`,
  alerts: `warren alerts [--host H] [--limit N] [--follow] [--json]     open alerts and recent events
warren alerts ack EVENT_ID [-m TEXT]
warren alerts webhook add URL [--severity S] [--group G] [--group-wait 5s] [--repeat 4h] | list | rm ID
  --repeat: an open, unacknowledged alert is sent again this often (0 = never)`,
  silence: `warren silence add (--host H | --group G) [--rule R] --for 2h [-m TEXT] | list | rm ID`,
};

export const MONITOR_FLAGS: Record<string, FlagSpec> = {
  template: { name: "value", group: "value", host: "value", priority: "value", prune: "bool" },
  metrics: { since: "value", step: "value", follow: "bool" },
  alerts: { host: "value", limit: "value", follow: "bool", m: "value", severity: "value", group: "value", "group-wait": "value", repeat: "value" },
  silence: { host: "value", group: "value", rule: "value", for: "value", m: "value" },
};

/** Read a template file: .json as JSON, anything else as YAML (JSON is valid YAML too). */
export function readTemplateFile(file: string): { doc: unknown; source: string } {
  const size = statSync(file).size;
  if (size > MAX_TEMPLATE_BYTES) throw new UsageError(`${file}: ${size} bytes (templates are at most ${MAX_TEMPLATE_BYTES})`);
  const source = readFileSync(file, "utf8");
  try {
    return { doc: /\.json$/i.test(file) ? JSON.parse(source) : parseYaml(source, { maxAliasCount: 50 }), source };
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message.split("\n")[0]}`);
  }
}

const stamp = (t: number | null): string => (t ? new Date(t).toISOString().replace("T", " ").slice(0, 19) : "-");

function eventLine(e: AlertEvent): string {
  const flags = [e.silenced ? "silenced" : "", e.inhibited ? "inhibited" : ""].filter(Boolean).join(",");
  return (
    `#${e.id} ${stamp(e.at)} ${e.state.toUpperCase().padEnd(8)} ${e.severity.padEnd(8)} ${e.host} ${e.rule}` +
    `${e.item ? ` ${e.item}=${e.value ?? "-"} (${e.threshold ?? ""})` : ""}${e.note ? ` — ${e.note}` : ""}${flags ? ` [${flags}]` : ""}`
  );
}

export async function monitorVerb(verb: string, p: Parsed, io: MonitorIo, c: FleetClient, sign: <T>(op: string, body: Record<string, unknown>) => Promise<T>): Promise<number> {
  const json = !!p.flags.json;
  const [sub, ...args] = p.positionals;
  const print = (v: unknown, human: () => string): void => io.out(json ? JSON.stringify(v, null, 2) : human());
  switch (verb) {
    case "template": {
      const name = args[0];
      const need = (what: string): string => {
        if (!name) throw new UsageError(`template ${sub} needs ${what}`);
        return name;
      };
      const target = (): Record<string, string> => {
        const g = str(p, "group");
        const h = str(p, "host");
        if (!!g === !!h) throw new UsageError("say exactly one of --group or --host");
        return g ? { group: g } : { host: h! };
      };
      switch (sub) {
        case "add": {
          const f = readTemplateFile(need("a FILE"));
          const r = await sign<{ name: string; changed: boolean }>("template.add", { doc: f.doc, source: f.source, ...(str(p, "name") ? { name: str(p, "name") } : {}) });
          print(r, () => `template ${r.name} ${r.changed ? "stored" : "unchanged"}`);
          return 0;
        }
        case "list": {
          const r = await c.call<Array<{ name: string; items: number; rules: number; links: Array<{ kind: string; target: string; priority: number }> }>>("template.list");
          print(r, () =>
            r.length
              ? r
                  .map(
                    (t) =>
                      `${t.name.padEnd(24)} ${String(t.items).padStart(3)} items ${String(t.rules).padStart(3)} rules  ${t.links.map((l) => `${l.kind}:${l.target}${l.priority ? `(${l.priority})` : ""}`).join(" ") || "(not assigned)"}`,
                  )
                  .join("\n")
              : "no templates",
          );
          return 0;
        }
        case "show": {
          const r = await c.call<{ source: string }>("template.show", { name: need("a NAME") });
          print(r, () => r.source);
          return 0;
        }
        case "rm":
          await sign("template.rm", { name: need("a NAME") });
          io.out(json ? JSON.stringify({ removed: name }) : `template ${name} removed`);
          return 0;
        case "assign":
        case "unassign": {
          const t = target();
          await sign(`template.${sub}`, { name: need("a NAME"), ...t, ...(str(p, "priority") ? { priority: parseIntArg(str(p, "priority")!, "--priority", -1_000_000) } : {}) });
          io.out(json ? JSON.stringify({ [sub]: name, ...t }) : `template ${name} ${sub}ed ${sub === "assign" ? "to" : "from"} ${Object.entries(t)[0]!.join(" ")}`);
          return 0;
        }
        case "effective": {
          const r = await c.call<EffectiveTemplate>("template.effective", { host: need("a HOST") });
          print(r, () =>
            [
              `host ${r.host}  rev ${r.rev}  from ${r.templates.join(", ") || "(no templates)"}`,
              ...Object.entries(r.items).map(
                ([k, it]) =>
                  `  item ${k.padEnd(20)} every ${it.intervalMs / 1000}s  ${it.cmd !== undefined ? `cmd: ${it.cmd}` : `${it.collector}.${it.field}${it.mount ? ` ${it.mount}` : ""}${it.iface ? ` ${it.iface}` : ""}`}`,
              ),
              ...r.rules.map(
                (x) =>
                  `  rule ${x.name.padEnd(20)} ${"nodataMs" in x ? `nodata ${x.nodataMs / 1000}s` : `${x.item} ${x.when.op} ${x.when.value} ×${x.count}${x.count > 1 ? ` within ${x.withinMs / 1000}s` : ""}`} [${x.severity}]`,
              ),
            ].join("\n"),
          );
          return 0;
        }
        case "apply": {
          const dir = need("a DIR");
          const files = readdirSync(dir)
            .filter((f) => /\.(ya?ml|json)$/i.test(f))
            .sort();
          if (!files.length) throw new UsageError(`${dir}: no .yaml, .yml or .json files`);
          const docs = files.map((f) => ({ file: f, ...readTemplateFile(join(dir, f)) }));
          const r = await sign<{ added: string[]; changed: string[]; unchanged: string[]; removed: string[]; links: { added: number; removed: number } }>("template.apply", {
            files: docs,
            prune: !!p.flags.prune,
          });
          print(
            r,
            () =>
              `applied ${files.length} file(s): added ${r.added.join(", ") || "-"}; changed ${r.changed.join(", ") || "-"}; unchanged ${r.unchanged.join(", ") || "-"}; removed ${r.removed.join(", ") || "-"}; links +${r.links.added} -${r.links.removed}`,
          );
          return 0;
        }
        default:
          throw new UsageError(`unknown template action ${JSON.stringify(sub ?? "")} (add, list, show, rm, assign, unassign, effective, apply)`);
      }
    }
    case "metrics": {
      const host = sub;
      const item = args[0];
      if (!host || args.length > 1) throw new UsageError("give HOST [ITEM]");
      const sinceMs = parseDuration(str(p, "since") ?? "1h", "--since");
      const stepMs = str(p, "step") ? parseDuration(str(p, "step")!, "--step") : undefined;
      if (!item) {
        type Latest = { state: string; rev: string | null; effectiveRev: string; items: Array<{ item: string; t: number | null; v: number | null; seq: number | null; error: string | null }> };
        const show = (r: Latest): string =>
          [
            `${host}: ${r.state}, template ${r.rev ?? "-"}${r.rev && r.rev !== r.effectiveRev ? ` (effective ${r.effectiveRev}: not applied yet)` : ""}`,
            ...r.items.map((x) => `  ${x.item.padEnd(20)} ${x.error ? `unsupported: ${x.error}` : String(x.v ?? "-").padStart(14)}   ${stamp(x.t)}`),
          ].join("\n");
        for (;;) {
          const r = await c.call<Latest>("metrics.latest", { host });
          print(r, () => show(r));
          if (!p.flags.follow) return 0;
          await new Promise((res) => setTimeout(res, 2000));
        }
      }
      type Series = { samples?: Array<{ t: number; v: number; seq: number | null }>; points?: Array<{ t: number; min: number; max: number; avg: number; last: number; n: number }> };
      let lastT = 0;
      for (;;) {
        const r = await c.call<Series>("metrics.series", { host, item, sinceMs, ...(stepMs ? { stepMs } : {}) });
        if (json && !p.flags.follow) return (print(r, () => ""), 0);
        if (r.points) {
          const pts = r.points.filter((x) => x.t > lastT || !p.flags.follow);
          for (const x of pts) io.out(json ? JSON.stringify(x) : `${stamp(x.t)}  avg ${round(x.avg)}  min ${round(x.min)}  max ${round(x.max)}  last ${round(x.last)}  (${x.n})`);
          if (r.points.length) lastT = Math.max(lastT, r.points[r.points.length - 1]!.t);
        } else {
          for (const x of r.samples ?? []) {
            if (x.t <= lastT) continue;
            io.out(json ? JSON.stringify(x) : `${stamp(x.t)}  ${x.v}${x.seq !== null ? `  seq ${x.seq}` : ""}`);
            lastT = x.t;
          }
        }
        if (!p.flags.follow) return 0;
        await new Promise((res) => setTimeout(res, 1000));
      }
    }
    case "alerts": {
      if (sub === "ack") {
        const id = parseIntArg(args[0] ?? "", "EVENT_ID", 1);
        const e = await sign<AlertEvent>("alerts.ack", { id, comment: str(p, "m") ?? "" });
        print(e, () => `acknowledged: ${eventLine(e)}`);
        return 0;
      }
      if (sub === "webhook") {
        const [action, arg] = args;
        if (action === "add") {
          if (!arg) throw new UsageError("webhook add needs a URL");
          const w = await sign<{ id: number; url: string }>("webhook.add", {
            url: arg,
            ...(str(p, "severity") ? { severity: str(p, "severity") } : {}),
            ...(str(p, "group") ? { group: str(p, "group") } : {}),
            ...(str(p, "group-wait") ? { groupWaitMs: parseDuration(str(p, "group-wait")!, "--group-wait") } : {}),
            ...(str(p, "repeat") ? { repeatMs: parseDuration(str(p, "repeat")!, "--repeat") } : {}),
          });
          print(w, () => `webhook ${w.id}: ${w.url}`);
          return 0;
        }
        if (action === "list") {
          const l = await c.call<Array<{ id: number; url: string; severity: string | null; group: string | null; groupWaitMs: number; repeatMs: number }>>("webhook.list");
          print(
            l,
            () =>
              l
                .map((w) => `${w.id}  ${w.url}  severity ${w.severity ?? "*"}  group ${w.group ?? "*"}  group-wait ${w.groupWaitMs / 1000}s  repeat ${w.repeatMs ? `${w.repeatMs / 1000}s` : "never"}`)
                .join("\n") || "no webhooks",
          );
          return 0;
        }
        if (action === "rm") {
          await sign("webhook.rm", { id: parseIntArg(arg ?? "", "webhook ID", 1) });
          io.out(`webhook ${arg} removed`);
          return 0;
        }
        throw new UsageError("alerts webhook add URL | list | rm ID");
      }
      if (sub) throw new UsageError(`unknown alerts action ${JSON.stringify(sub)} (ack, webhook)`);
      const host = str(p, "host");
      const limit = parseIntArg(str(p, "limit") ?? "20", "--limit", 1);
      type List = { events: AlertEvent[]; open: Array<{ alert: string; state: string; since: number; acked: boolean }> };
      const r = await c.call<List>("alerts.list", { limit, ...(host ? { host } : {}) });
      if (!p.flags.follow) {
        print(r, () =>
          [
            `open: ${r.open.length ? "" : "none"}`,
            ...r.open.map((a) => `  ${a.state.toUpperCase().padEnd(8)} ${a.alert} since ${stamp(a.since)}${a.acked ? " (acked)" : ""}`),
            "events:",
            ...r.events.map((e) => `  ${eventLine(e)}`),
          ].join("\n"),
        );
        return 0;
      }
      // --follow: the recent events, then each new one as it is stored
      let after = 0;
      for (const e of r.events) io.out(json ? JSON.stringify(e) : eventLine(e)), (after = Math.max(after, e.id));
      for (;;) {
        await new Promise((res) => setTimeout(res, 300));
        const n = await c.call<List>("alerts.list", { afterId: after, limit: 1000, ...(host ? { host } : {}) });
        for (const e of n.events) io.out(json ? JSON.stringify(e) : eventLine(e)), (after = Math.max(after, e.id));
      }
    }
    case "silence": {
      if (sub === "add") {
        const forMs = parseDuration(str(p, "for") ?? "", "--for");
        const s = await sign<{ id: number; ends: number }>("silence.add", { host: str(p, "host"), group: str(p, "group"), rule: str(p, "rule"), forMs, comment: str(p, "m") ?? "" });
        print(s, () => `silence ${s.id} until ${stamp(s.ends)}`);
        return 0;
      }
      if (sub === "list") {
        const l = await c.call<Array<{ id: number; host: string | null; group: string | null; rule: string | null; ends: number; comment: string; createdBy: string }>>("silence.list");
        const now = Date.now();
        print(
          l,
          () =>
            l
              .filter((s) => s.ends > now)
              .map((s) => `${s.id}  ${s.host ? `host ${s.host}` : `group ${s.group}`}${s.rule ? ` rule ${s.rule}` : ""} until ${stamp(s.ends)}  by ${s.createdBy}  ${s.comment}`)
              .join("\n") || "no active silences",
        );
        return 0;
      }
      if (sub === "rm") {
        await sign("silence.rm", { id: parseIntArg(args[0] ?? "", "silence ID", 1) });
        io.out(`silence ${args[0]} ended`);
        return 0;
      }
      throw new UsageError("silence add | list | rm ID");
    }
  }
  return 2;
}

const round = (x: number): string => String(Math.round(x * 100) / 100);
