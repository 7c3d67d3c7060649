// Fleet: hosts (state, groups, facts, last seen), tasks (list with filters; one task with
// each host's status, exit code and output, live while it runs; cancel), running a command
// on hosts, a group or a name pattern, and the audit log. Everything goes through
// /api/fleet/ (src/fleet/http.ts); the collector signs the commands it dispatches, the same
// envelope the CLI's submissions get. Submitting and cancelling need the administrator or
// fleet tag, as the API enforces.

import { get, post, authHeader } from "../api.js";
import { h, replace, link, time, duration, badge, dataTable, section, kv, form, flash, actionButton, msg } from "../dom.js";
import { hasTag } from "../app.js";
import { hostMetrics, alerts } from "./monitoring.js";

const TABS = [
  ["", "Hosts"],
  ["tasks", "Tasks"],
  ["alerts", "Alerts"],
  ["run", "Run a command"],
  ["audit", "Audit log"],
];

const canOperate = (ctx) => hasTag(ctx.me, "administrator", "fleet");

function subnav(ctx, current) {
  return h(
    "nav",
    { class: "subnav", "aria-label": "Fleet" },
    TABS.filter(([k]) => k !== "run" || canOperate(ctx)).map(([k, label]) => h("a", { href: k ? `#/fleet/${k}` : "#/fleet", "aria-current": k === current ? "page" : null }, label)),
  );
}

export default async function fleet(main, ctx) {
  const [, sub = "", id] = ctx.params;
  main.append(subnav(ctx, sub === "hosts" ? "" : sub));
  if (sub === "") return hosts(main, ctx);
  if (sub === "tasks" && id !== undefined) return task(main, ctx, id);
  if (sub === "tasks") return tasks(main, ctx);
  if (sub === "run") return run(main, ctx);
  if (sub === "hosts" && id !== undefined) return hostMetrics(main, ctx, id, canOperate(ctx));
  if (sub === "alerts") return alerts(main, ctx, canOperate(ctx));
  if (sub === "audit") return audit(main, ctx);
  main.append(h("h1", null, "Not found"));
}

const STATUS_CLASS = { ok: "b-ok", failed: "b-bad", error: "b-bad", timeout: "b-bad", rejected: "b-bad", lost: "b-bad", expired: "b-bad", cancelled: "" };
const statusBadge = (s) => badge(s, STATUS_CLASS[s] ?? "");

function countsCell(counts) {
  return Object.entries(counts || {}).map(([k, n]) => badge(`${k} ${n}`, STATUS_CLASS[k] ?? ""));
}

async function hosts(main, ctx) {
  const t = dataTable({
    caption: "Hosts",
    empty: "No hosts have reported yet. Start one with: warren agent --name NAME --groups GROUP",
    columns: [
      { title: "Host", value: (x) => x.name, cell: (x) => link(x.name, "fleet", "hosts", x.name) },
      {
        title: "State",
        value: (x) => x.presence ?? (x.online ? "online" : "offline"),
        cell: (x) => h("span", { class: x.online ? "ok" : "bad" }, x.online ? "online" : `${x.presence ?? "offline"}${x.since ? ` since ${new Date(x.since).toLocaleString()}` : ""}`),
      },
      { title: "Groups", value: (x) => x.groups.join(" "), cell: (x) => x.groups.map((g) => badge(g)) },
      { title: "OS", value: (x) => (x.facts ? `${x.facts.os} ${x.facts.release} ${x.facts.arch}` : "") },
      { title: "Addresses", value: (x) => (x.facts?.addresses || []).join(" ") },
      { title: "Agent", value: (x) => x.facts?.agentVersion ?? "" },
      { title: "Last seen", value: (x) => x.lastSeen ?? 0, cell: (x) => (x.lastSeen ? `${duration(Date.now() - x.lastSeen)} ago` : "never") },
      { title: "Enrolled", value: (x) => (x.enrolled ? "yes" : "no") },
    ],
  });
  main.append(h("h1", null, "Fleet hosts"), t.el);
  await ctx.live(async () => t.update(await get("/fleet/hosts")));
}

const targetText = (t) => (!t ? "" : t.group ? `group ${t.group}` : t.match ? `match ${t.match}` : (t.hosts || []).join(", "));

async function tasks(main, ctx) {
  const state = h(
    "select",
    { "aria-label": "Show tasks", on: { change: () => ctx.live(load) } },
    [
      ["", "All tasks"],
      ["active", "Still running"],
      ["failed", "With failures"],
    ].map(([v, l]) => h("option", { value: v }, l)),
  );
  const limit = h(
    "select",
    { "aria-label": "How many", on: { change: () => ctx.live(load) } },
    ["50", "200", "1000"].map((v) => h("option", { value: v }, `last ${v}`)),
  );
  const t = dataTable({
    caption: "Tasks",
    empty: "No tasks yet.",
    columns: [
      { title: "Task", value: (x) => x.id, cell: (x) => link(String(x.id), "fleet", "tasks", String(x.id)), n: true },
      { title: "Command", value: (x) => x.command, cell: (x) => h("code", null, x.command) },
      { title: "Target", value: (x) => targetText(x.target) },
      { title: "User", value: (x) => x.user },
      { title: "Submitted", value: (x) => x.createdAt, cell: (x) => time(x.createdAt) },
      { title: "Hosts", value: (x) => Object.keys(x.counts || {}).join(" "), cell: (x) => countsCell(x.counts) },
    ],
  });
  main.append(h("h1", null, "Fleet tasks"), h("div", { class: "tools" }, state, limit), t.el);
  const FINAL = ["ok", "failed", "error", "timeout", "rejected", "lost", "expired", "cancelled"];
  async function load() {
    let rows = await get(`/fleet/tasks?limit=${limit.value}`);
    if (state.value === "active") rows = rows.filter((x) => Object.keys(x.counts).some((k) => !FINAL.includes(k)));
    if (state.value === "failed") rows = rows.filter((x) => Object.keys(x.counts).some((k) => k !== "ok" && k !== "cancelled" && FINAL.includes(k)));
    t.update(rows);
  }
  await ctx.live(load);
}

/** Read the task's server-sent events with fetch (EventSource cannot send an Authorization header). */
async function follow(id, onEvent, signal) {
  const r = await fetch(`/api/fleet/tasks/${encodeURIComponent(id)}/stream`, { headers: { authorization: authHeader(), accept: "text/event-stream" }, signal, credentials: "omit" });
  if (!r.ok || !r.body) throw new Error(`live output: HTTP ${r.status}`);
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let event = "message",
        data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data) onEvent(event, JSON.parse(data));
    }
  }
}

async function task(main, ctx, id) {
  const info = h("div");
  const results = h("div");
  const live = h("pre", { class: "out", "aria-live": "off", hidden: true });
  const cancel = canOperate(ctx)
    ? actionButton(
        "Cancel task",
        async () => {
          const r = await post(`/fleet/tasks/${encodeURIComponent(id)}/cancel`, {});
          flash(`Cancel sent: ${r.cancelled ?? 0} hosts cancelled before start, ${r.signalled ?? 0} signalled.`);
        },
        { confirmText: `Cancel task ${id} on every host still running it?`, danger: true },
      )
    : null;
  const liveSection = section("Live output", live);
  liveSection.hidden = true;
  main.append(h("h1", null, "Task ", h("small", null, id)), info, cancel ? h("div", { class: "tools" }, cancel) : null, liveSection, section("Hosts", results));
  const draw = (v) => {
    replace(
      info,
      kv([
        ["Command", h("code", null, v.command)],
        ["Target", targetText(v.target)],
        ["Submitted by", v.user],
        ["Submitted", time(v.createdAt)],
        ["Timeout", duration(v.timeoutMs)],
        ["State", v.state],
        ["Hosts", countsCell(v.counts)],
      ]),
    );
    if (cancel) cancel.hidden = v.state === "done";
    replace(
      results,
      v.results.length === 0
        ? msg("No hosts matched this task.", "info")
        : v.results.map((r) =>
            h(
              "article",
              { class: "host-result", "data-host": r.host },
              h("h3", null, r.host, " ", statusBadge(r.status)),
              kv([
                ["Exit code", r.exitCode === null ? "" : String(r.exitCode)],
                r.signal ? ["Signal", r.signal] : null,
                ["Started", time(r.startedAt)],
                ["Finished", time(r.finishedAt)],
                r.startedAt && r.finishedAt ? ["Took", duration(r.finishedAt - r.startedAt)] : null,
                r.error ? ["Error", h("span", { class: "bad" }, r.error)] : null,
                r.truncated ? ["Output", "truncated"] : null,
              ]),
              r.stdout ? h("pre", { class: "out stdout", "aria-label": `${r.host} standard output` }, r.stdout) : null,
              r.stderr ? h("pre", { class: "out stderr", "aria-label": `${r.host} standard error` }, r.stderr) : null,
            ),
          ),
    );
    (v.rejections || []).forEach((x) => results.append(msg(`${x.host} refused the command: ${x.error}`)));
  };
  const first = await get(`/fleet/tasks/${encodeURIComponent(id)}`);
  draw(first);
  if (first.state === "done") return;
  // live: the stream pushes full views and output chunks until every host is final
  const abort = new AbortController();
  const stop = setInterval(() => {
    if (ctx.stale()) {
      abort.abort();
      clearInterval(stop);
    }
  }, 500);
  live.hidden = false;
  liveSection.hidden = false;
  follow(
    id,
    (event, data) => {
      live.dataset.connected = "true"; // the stream is open (the server's first event is the task view)
      if (event === "task") draw(data);
      else if (event === "output") {
        // one line per output line, each prefixed with its host and stream (chunks hold several lines)
        const lines = String(data.data).split("\n");
        if (lines[lines.length - 1] === "") lines.pop();
        live.append(lines.map((l) => `[${data.host} ${data.stream}] ${l}\n`).join(""));
        live.scrollTop = live.scrollHeight;
      } else if (event === "done") {
        live.append(
          `— done: ${Object.entries(data.counts)
            .map(([k, n]) => `${k} ${n}`)
            .join(", ")}\n`,
        );
      }
    },
    abort.signal,
  )
    .catch((e) => {
      if (!abort.signal.aborted) live.append(`(${e.message})\n`);
    })
    .finally(() => clearInterval(stop));
}

async function run(main, ctx) {
  const hostList = await get("/fleet/hosts");
  const groups = [...new Set(hostList.flatMap((x) => x.groups))].sort();
  main.append(h("h1", null, "Run a command"));
  if (!canOperate(ctx)) {
    main.append(msg("Running commands needs the administrator or fleet tag."));
    return;
  }
  const f = form({
    legend: "Command",
    submit: "Run",
    fields: [
      { name: "command", label: "Command", required: true, placeholder: "df -h", hint: "run by /bin/sh on each host" },
      {
        name: "kind",
        label: "Target",
        type: "select",
        options: [
          ["hosts", "Hosts (names)"],
          ["group", "Group"],
          ["match", "Host name pattern"],
        ],
      },
      {
        name: "hosts",
        label: "Hosts",
        placeholder: hostList
          .map((x) => x.name)
          .slice(0, 3)
          .join(" "),
        hint: `space-separated; known: ${hostList.map((x) => x.name).join(" ") || "none"}`,
      },
      { name: "group", label: "Group", type: "select", options: groups.length ? groups : [["", "(no groups)"]] },
      { name: "match", label: "Pattern", placeholder: "web*", hint: "glob on host names" },
      { name: "timeout", label: "Timeout (s)", type: "number", value: "600", min: 1 },
      { name: "batch", label: "Batch", type: "number", value: "0", min: 0, hint: "hosts at a time; 0 = all at once" },
    ],
    async onSubmit(v) {
      const body = { command: v.command, timeoutMs: (v.timeout ?? 600) * 1000 };
      if (v.batch) body.batch = v.batch;
      if (v.kind === "hosts") {
        body.hosts = v.hosts.split(/[\s,]+/).filter(Boolean);
        if (!body.hosts.length) throw new Error("Name at least one host.");
      } else if (v.kind === "group") {
        if (!v.group) throw new Error("Choose a group.");
        body.group = v.group;
      } else {
        if (!v.match) throw new Error("Give a host name pattern.");
        body.match = v.match;
      }
      const r = await post("/fleet/tasks", body);
      flash(`Task ${r.id} submitted.`);
      ctx.go(`#/fleet/tasks/${r.id}`);
    },
  });
  main.append(f, section("Known hosts", h("p", null, hostList.length ? hostList.map((x) => h("span", null, badge(x.name, x.online ? "b-ok" : "b-bad"), " ")) : "none")));
}

async function audit(main, ctx) {
  const t = dataTable({
    caption: "Audit log",
    empty: "The audit log is empty.",
    columns: [
      { title: "When", value: (a) => a.at, cell: (a) => time(a.at) },
      { title: "Who", value: (a) => a.actor },
      { title: "Action", value: (a) => a.action },
      { title: "Task", value: (a) => a.taskId ?? "", cell: (a) => (a.taskId === null ? "" : link(String(a.taskId), "fleet", "tasks", String(a.taskId))) },
      { title: "Detail", value: (a) => JSON.stringify(a.detail), cell: (a) => h("code", null, a.detail === null ? "" : JSON.stringify(a.detail)) },
    ],
  });
  main.append(h("h1", null, "Fleet audit log"), t.el);
  await ctx.live(async () => t.update(await get("/fleet/audit?limit=500")));
}
