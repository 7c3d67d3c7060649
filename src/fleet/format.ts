/**
 * Human-readable rendering of tasks and hosts for the CLI and shell. Hosts
 * whose outcome is identical (status, exit code, stdout, stderr) are folded
 * into one block, so 500 identical `df -h` answers read as one; `--one-line`
 * gives one line per host instead (for grep and awk). Colours only when the
 * caller says so (a terminal, no NO_COLOR, no --no-color): see cli.ts.
 */
import type { GroupRow, ResultRow } from "./store.js";
import { FleetService, type HostView, type TaskView } from "./service.js";
import { isFinal } from "./protocol.js";

/** How to render: colours on or off. */
export interface Style {
  color: boolean;
}
export const PLAIN: Style = { color: false };

const SGR: Record<string, number> = { ok: 32, bad: 31, warn: 33, live: 36, dim: 2, bold: 1 };
const paint = (st: Style, kind: keyof typeof SGR, s: string): string => (st.color && s ? `\x1b[${SGR[kind]}m${s}\x1b[0m` : s);

/** ok green; ran-and-failed red; never-ran yellow; still going cyan. */
function statusKind(status: string): keyof typeof SGR {
  if (status === "ok" || status === "online") return "ok";
  if (["failed", "timeout", "rejected", "interrupted", "lost"].includes(status)) return "bad";
  if (["expired", "unroutable", "cancelled", "offline"].includes(status)) return "warn";
  return status === "unknown" || status === "enrolled" ? "dim" : "live";
}

/** Paint the status word(s) at the head of `text` by `status`. */
const status = (st: Style, statusWord: string, text = statusWord): string => paint(st, statusKind(statusWord), text);

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

export function formatTask(v: TaskView, st: Style = PLAIN): string {
  const lines: string[] = [];
  const target = v.target?.group ? `group ${v.target.group}` : v.target?.match ? `match ${v.target.match}` : `${v.results.length} host(s)`;
  lines.push(paint(st, "bold", `task ${v.id}: ${v.command}`));
  lines.push(
    `  by ${v.user} at ${stamp(v.createdAt)} on ${target}; timeout ${Math.round(v.timeoutMs / 1000)}s, expires ${stamp(v.expiresAt)}${v.batch ? `, batches of ${v.batch}` : ""}${v.cancelRequested ? ", CANCEL REQUESTED" : ""}`,
  );
  lines.push(`  ${v.state === "done" ? "done" : "in progress"}: ${v.results.length} host(s) — ${statusLine(v.counts, st)}`);
  const folds = new Map<string, { hosts: string[]; r: ResultRow }>();
  for (const r of v.results) {
    const k = JSON.stringify([describe(r) + waitingOn(r, v), r.stdout, r.stderr, r.error]);
    const f = folds.get(k);
    if (f) f.hosts.push(r.host);
    else folds.set(k, { hosts: [r.host], r });
  }
  for (const { hosts, r } of folds.values()) {
    lines.push("");
    lines.push(`== ${paint(st, "bold", formatHostList(hosts))} (${status(st, r.status, describe(r))}${waitingOn(r, v)})${hosts.length > 1 ? ` ×${hosts.length}` : ""}`);
    if (r.error) lines.push(`   ${paint(st, statusKind(r.status) === "ok" ? "dim" : statusKind(r.status), r.error)}`);
    if (r.stdout) lines.push(r.stdout.replace(/\n$/, ""));
    if (r.stderr) lines.push(paint(st, "dim", "-- stderr --"), r.stderr.replace(/\n$/, ""));
  }
  for (const rj of v.rejections ?? []) lines.push("", paint(st, "bad", `!! ${rj.host} refused a command for this task: ${rj.error}`));
  return lines.join("\n");
}

/** `--one-line`: `host | status | rc=N | output` per host, newlines shown as \n (ansible's -o, salt's txt). */
export function formatTaskOneLine(v: TaskView, st: Style = PLAIN): string {
  const flat = (s: string): string => s.replace(/\n$/, "").replace(/\\/g, "\\\\").replace(/\r?\n/g, "\\n");
  return v.results
    .map((r) => {
      const parts = [paint(st, "bold", r.host), status(st, r.status, r.status + waitingOn(r, v))];
      if (r.exitCode !== null) parts.push(`rc=${r.exitCode}`);
      if (r.signal) parts.push(`signal=${r.signal}`);
      if (r.truncated) parts.push("truncated");
      if (r.error) parts.push(flat(r.error));
      if (r.stdout) parts.push(flat(r.stdout));
      if (r.stderr) parts.push(`(stderr) ${flat(r.stderr)}`);
      return parts.join(" | ");
    })
    .join("\n");
}

export function statusLine(counts: Record<string, number>, st: Style = PLAIN): string {
  return FleetService.statusLine(counts)
    .split(", ")
    .map((part) => status(st, part.split(" ")[1] ?? "", part))
    .join(", ");
}

export function formatTasks(rows: Array<{ id: number; command: string; user: string; createdAt: number; counts: Record<string, number> }>, st: Style = PLAIN): string {
  if (!rows.length) return "no tasks yet";
  const out = ["ID      WHEN                 BY        STATUS                               COMMAND"];
  for (const t of rows) {
    const line = FleetService.statusLine(t.counts);
    const shown = line.length > 36 ? line.slice(0, 35) + "…" : line;
    // Colour only when the summary is whole (a cut one would split a colour code).
    out.push(
      `${String(t.id).padEnd(7)} ${stamp(t.createdAt)}  ${t.user.slice(0, 9).padEnd(9)} ${shown === line ? statusLine(t.counts, st) : shown}${" ".repeat(Math.max(0, 36 - shown.length))} ${t.command}`,
    );
  }
  return out.join("\n");
}

export function formatHosts(rows: HostView[], st: Style = PLAIN): string {
  if (!rows.length) return "no hosts yet (start `warren agent --name NAME`)";
  const out = ["HOST                 STATE    SINCE                LAST SEEN  GROUPS               HOSTNAME / OS"];
  for (const h of rows) {
    out.push(
      `${h.name.padEnd(20)} ${status(st, h.presence, h.presence.padEnd(8))} ${(h.since ? stamp(h.since) : "-").padEnd(20)} ${ago(h.lastSeen).padEnd(10)} ${(h.groups.join(",") || "-").padEnd(20)} ${h.facts ? `${h.facts.hostname} / ${h.facts.os} (agent ${h.facts.agentVersion})` : "-"}`,
    );
  }
  return out.join("\n");
}

export function formatGroups(rows: GroupRow[]): string {
  if (!rows.length) return "no groups yet (`warren groups add NAME`, or agents' --groups)";
  const out = ["GROUP                KIND       ASSIGNED  ANNOUNCED  MEMBERS"];
  for (const g of rows) {
    const members = [...new Set([...g.assigned, ...g.announced])].sort();
    out.push(
      `${g.name.padEnd(20)} ${(g.central ? "central" : "announced").padEnd(10)} ${String(g.assigned.length).padEnd(9)} ${String(g.announced.length).padEnd(10)} ${formatHostList(members) || "-"}${g.description ? `  # ${g.description}` : ""}`,
    );
  }
  return out.join("\n");
}

export function progressLine(v: { id: number; counts: Record<string, number> }, st: Style = PLAIN): string {
  const total = Object.values(v.counts).reduce((a, b) => a + b, 0);
  const final = Object.entries(v.counts)
    .filter(([k]) => isFinal(k))
    .reduce((a, [, n]) => a + n, 0);
  return `task ${v.id}: ${final}/${total} final — ${statusLine(v.counts, st)}`;
}
