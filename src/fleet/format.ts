/**
 * Human-readable rendering of tasks and hosts for the CLI and shell. Hosts
 * whose outcome is identical (status, exit code, stdout, stderr) are folded
 * into one block, so 500 identical `df -h` answers read as one.
 */
import type { GroupRow, ResultRow } from "./store.js";
import { FleetService, type HostView, type TaskView } from "./service.js";
import { isFinal } from "./protocol.js";

const ago = (t: number | null): string => {
  if (!t) return "never";
  const s = Math.round((Date.now() - t) / 1000);
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
};

const stamp = (t: number): string => new Date(t).toISOString().replace("T", " ").slice(0, 19);

function describe(r: ResultRow): string {
  let s = r.status;
  if (r.exitCode !== null && (r.status === "ok" || r.status === "failed")) s += `, exit ${r.exitCode}`;
  if (r.signal) s += `, signal ${r.signal}`;
  if (r.truncated) s += ", output truncated";
  return s;
}

export function formatHostList(hosts: string[], max = 12): string {
  return hosts.length <= max ? hosts.join(" ") : `${hosts.slice(0, max).join(" ")} … (+${hosts.length - max} more)`;
}

/** "queued — host offline since 23:40:02" for a row that waits on a host that is not there. */
function waitingOn(r: ResultRow, v: TaskView): string {
  const p = v.hosts?.[r.host];
  if (!p || isFinal(r.status) || p.presence === "online") return "";
  if (p.presence === "offline") return ` — host offline since ${stamp(p.since!)}`;
  if (p.presence === "lost") return ` — host lost (silent since ${stamp(p.since!)})`;
  return p.presence === "enrolled" ? " — host enrolled but never connected" : " — host never seen";
}

export function formatTask(v: TaskView): string {
  const lines: string[] = [];
  const target = v.target?.group ? `group ${v.target.group}` : v.target?.match ? `match ${v.target.match}` : `${v.results.length} host(s)`;
  lines.push(`task ${v.id}: ${v.command}`);
  lines.push(`  by ${v.user} at ${stamp(v.createdAt)} on ${target}; timeout ${Math.round(v.timeoutMs / 1000)}s, expires ${stamp(v.expiresAt)}${v.batch ? `, batches of ${v.batch}` : ""}${v.cancelRequested ? ", CANCEL REQUESTED" : ""}`);
  lines.push(`  ${v.state === "done" ? "done" : "in progress"}: ${v.results.length} host(s) — ${FleetService.statusLine(v.counts)}`);
  const folds = new Map<string, { hosts: string[]; r: ResultRow }>();
  for (const r of v.results) {
    const k = JSON.stringify([describe(r) + waitingOn(r, v), r.stdout, r.stderr, r.error]);
    const f = folds.get(k);
    if (f) f.hosts.push(r.host);
    else folds.set(k, { hosts: [r.host], r });
  }
  for (const { hosts, r } of folds.values()) {
    lines.push("");
    lines.push(`== ${formatHostList(hosts)} (${describe(r)}${waitingOn(r, v)})${hosts.length > 1 ? ` ×${hosts.length}` : ""}`);
    if (r.error) lines.push(`   ${r.error}`);
    if (r.stdout) lines.push(r.stdout.replace(/\n$/, ""));
    if (r.stderr) lines.push("-- stderr --", r.stderr.replace(/\n$/, ""));
  }
  for (const rj of v.rejections ?? []) lines.push("", `!! ${rj.host} refused a command for this task: ${rj.error}`);
  return lines.join("\n");
}

export function formatTasks(rows: Array<{ id: number; command: string; user: string; createdAt: number; counts: Record<string, number> }>): string {
  if (!rows.length) return "no tasks yet";
  const out = ["ID      WHEN                 BY        STATUS                               COMMAND"];
  for (const t of rows) out.push(`${String(t.id).padEnd(7)} ${stamp(t.createdAt)}  ${t.user.slice(0, 9).padEnd(9)} ${FleetService.statusLine(t.counts).slice(0, 36).padEnd(36)} ${t.command}`);
  return out.join("\n");
}

export function formatHosts(rows: HostView[]): string {
  if (!rows.length) return "no hosts yet (start `warren agent --name NAME`)";
  const out = ["HOST                 STATE    SINCE                LAST SEEN  GROUPS               HOSTNAME / OS"];
  for (const h of rows) {
    out.push(`${h.name.padEnd(20)} ${h.presence.padEnd(8)} ${(h.since ? stamp(h.since) : "-").padEnd(20)} ${ago(h.lastSeen).padEnd(10)} ${(h.groups.join(",") || "-").padEnd(20)} ${h.facts ? `${h.facts.hostname} / ${h.facts.os} (agent ${h.facts.agentVersion})` : "-"}`);
  }
  return out.join("\n");
}

export function formatGroups(rows: GroupRow[]): string {
  if (!rows.length) return "no groups yet (`warren groups add NAME`, or agents' --groups)";
  const out = ["GROUP                KIND       ASSIGNED  ANNOUNCED  MEMBERS"];
  for (const g of rows) {
    const members = [...new Set([...g.assigned, ...g.announced])].sort();
    out.push(`${g.name.padEnd(20)} ${(g.central ? "central" : "announced").padEnd(10)} ${String(g.assigned.length).padEnd(9)} ${String(g.announced.length).padEnd(10)} ${formatHostList(members) || "-"}${g.description ? `  # ${g.description}` : ""}`);
  }
  return out.join("\n");
}

export function progressLine(v: TaskView): string {
  const final = v.results.filter((r) => !["pending", "queued", "running"].includes(r.status)).length;
  return `task ${v.id}: ${final}/${v.results.length} final — ${FleetService.statusLine(v.counts)}`;
}
