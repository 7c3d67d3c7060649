// Fleet monitoring pages: one host's metrics (latest value of every item of its effective
// template, a chart per item over a selectable window) and the alerts (open alerts with
// acknowledge, recent alert events, silences: add and end). Everything comes from the
// monitoring API under /api/fleet/ (src/fleet/monitor/http.ts); acknowledging and silencing
// need the administrator or fleet tag, as the API enforces.

import { get, post, del, seg } from "../api.js";
import { h, replace, link, time, duration, badge, dataTable, section, kv, form, flash, actionButton, msg } from "../dom.js";
import { lineChart } from "../chart.js";

/** Chart windows for metrics: label, how far back, the step asked of the collector (null: raw samples). */
const METRIC_WINDOWS = [
  ["10m", "Last ten minutes", null],
  ["1h", "Last hour", "1m"],
  ["24h", "Last day", "15m"],
  ["7d", "Last week", "2h"],
];

const STATE_CLASS = { firing: "b-bad", nodata: "b-bad", flapping: "b-warn", resolved: "b-ok", ok: "b-ok", acked: "", silenced: "" };
const stateBadge = (s) => badge(s, STATE_CLASS[s] ?? "");

/** The collector's points as the chart's samples (newest first, {sample, timestamp}). */
function asSamples(r) {
  const pts = r.samples ? r.samples.map((x) => ({ t: x.t, v: x.v })) : (r.points || []).map((p) => ({ t: p.t, v: p.avg }));
  return { samples: pts.map((p) => ({ sample: p.v, timestamp: p.t })).reverse() };
}

export async function hostMetrics(main, ctx, host, canOperate) {
  const win = h(
    "select",
    { "aria-label": "Chart window", on: { change: () => load().catch((e) => flash(e.message, "error")) } },
    METRIC_WINDOWS.map(([v, l]) => h("option", { value: v }, l)),
  );
  const head = h("div");
  const charts = h("div", { class: "charts" });
  const open = h("div");
  main.append(h("h1", null, "Host ", h("small", null, host)), head, section("Open alerts", open), section("Metrics", h("div", { class: "tools" }, win), charts));
  async function load() {
    let latest;
    try {
      latest = await get(`/fleet/hosts/${seg(host)}/metrics`);
    } catch (e) {
      replace(head, msg(e.status === 404 ? "Monitoring is not running on this server's Fleet collector." : e.message));
      return;
    }
    replace(
      head,
      kv([
        ["State", stateBadge(latest.state)],
        ["Template revision", latest.effectiveRev ? h("code", null, latest.effectiveRev) : "none"],
        ["Agent applied", latest.rev ? h("code", null, latest.rev) : "not yet"],
        ["Last sample", latest.lastSeq === null ? "none yet" : `#${latest.lastSeq}`],
      ]),
    );
    const items = latest.items;
    const t = dataTable({
      caption: "Latest values",
      empty: "No items: assign a template to this host or one of its groups (warren template assign).",
      filterable: false,
      columns: [
        { title: "Item", value: (x) => x.item, cell: (x) => h("code", null, x.item) },
        { title: "Value", value: (x) => x.v ?? -Infinity, cell: (x) => (x.error ? h("span", { class: "bad" }, x.error) : x.v === null ? "–" : String(x.v)), n: true },
        { title: "At", value: (x) => x.t ?? 0, cell: (x) => (x.t ? `${duration(Date.now() - x.t)} ago` : "never") },
        { title: "Sample", value: (x) => x.seq ?? 0, cell: (x) => (x.seq === null ? "" : `#${x.seq}`), n: true },
      ],
    });
    t.update(items);
    const [, , step] = METRIC_WINDOWS.find((w) => w[0] === win.value) || METRIC_WINDOWS[0];
    const figures = await Promise.all(
      items.map(async (x) => {
        const r = await get(`/fleet/hosts/${seg(host)}/metrics?item=${seg(x.item)}&since=${win.value}${step ? `&step=${step}` : ""}`);
        return lineChart({ title: x.item, series: [{ label: step ? `${x.item} (avg per ${step})` : x.item, details: asSamples(r) }], asRate: false });
      }),
    );
    replace(charts, t.el, ...figures);
    const alerts = await get(`/fleet/alerts?host=${seg(host)}&limit=20`);
    replace(
      open,
      openAlerts(alerts.open),
      recentEvents(alerts.events, false, canOperate, () => load().catch(() => {}), alerts.open),
    );
  }
  await ctx.live(load);
}

function openAlerts(rows) {
  const t = dataTable({
    caption: "Open alerts",
    empty: "No alert is firing.",
    filterable: false,
    columns: [
      { title: "Rule", value: (x) => x.rule, cell: (x) => h("code", null, x.rule) },
      { title: "Host", value: (x) => x.host, cell: (x) => link(x.host, "fleet", "hosts", x.host) },
      { title: "State", value: (x) => x.state, cell: (x) => [stateBadge(x.state), x.acked ? badge("acknowledged") : null] },
      { title: "Since", value: (x) => x.since, cell: (x) => (x.since ? time(x.since) : "") },
    ],
  });
  t.update(rows);
  return t.el;
}

/** `open`: the alert ids still open — only their latest firing event can be acknowledged. */
function recentEvents(events, withHost, canOperate, reload, open = []) {
  const openIds = new Set(open.filter((x) => !x.acked).map((x) => x.alert));
  const latest = new Map();
  for (const e of events) if (!latest.has(e.alert) || latest.get(e.alert).id < e.id) latest.set(e.alert, e);
  const t = dataTable({
    caption: "Recent alert events",
    empty: "No alert events yet.",
    columns: [
      { title: "#", value: (x) => x.id, n: true },
      { title: "When", value: (x) => x.t, cell: (x) => time(x.t) },
      withHost ? { title: "Host", value: (x) => x.host, cell: (x) => link(x.host, "fleet", "hosts", x.host) } : null,
      { title: "Rule", value: (x) => x.rule, cell: (x) => h("code", null, x.rule) },
      { title: "State", value: (x) => x.state, cell: (x) => stateBadge(x.state) },
      { title: "Severity", value: (x) => x.severity },
      { title: "Value", value: (x) => x.value ?? -Infinity, cell: (x) => (x.value === null ? "" : `${x.value}${x.threshold ? ` (${x.threshold})` : ""}`) },
      canOperate
        ? {
            title: "",
            value: () => "",
            cell: (x) =>
              openIds.has(x.alert) && latest.get(x.alert) === x && (x.state === "firing" || x.state === "nodata" || x.state === "flapping")
                ? actionButton("Acknowledge", async () => {
                    await post(`/fleet/alerts/${seg(String(x.id))}/ack`, { comment: "acknowledged in the web UI" });
                    flash(`Alert ${x.rule} on ${x.host} acknowledged.`);
                    reload();
                  })
                : "",
          }
        : null,
    ].filter(Boolean),
  });
  t.update(events);
  return t.el;
}

export async function alerts(main, ctx, canOperate) {
  const open = h("div");
  const events = h("div");
  const silences = h("div");
  const reload = () => load().catch((e) => flash(e.message, "error"));
  const addSilence = canOperate
    ? form({
        legend: "Silence alerts",
        submit: "Silence",
        fields: [
          { name: "host", label: "Host", hint: "empty: every host" },
          { name: "group", label: "Group", hint: "empty: every group" },
          { name: "rule", label: "Rule", hint: "empty: every rule" },
          { name: "for", label: "For", value: "1h", required: true, hint: "e.g. 30m, 2h, 1d" },
          { name: "comment", label: "Comment" },
        ],
        onSubmit: async (v) => {
          const body = { for: v.for, comment: v.comment };
          for (const k of ["host", "group", "rule"]) if (v[k]) body[k] = v[k];
          const r = await post("/fleet/silences", body);
          reload();
          return `Silence ${r.id ?? ""} added.`;
        },
      })
    : null;
  // the form sits outside what each refresh redraws, so typing in it is never interrupted
  main.append(h("h1", null, "Fleet alerts"), section("Open alerts", open), section("Recent events", events), section("Silences", silences, addSilence));
  async function load() {
    let a;
    try {
      a = await get("/fleet/alerts?limit=100");
    } catch (e) {
      replace(open, msg(e.status === 404 ? "Monitoring is not running on this server's Fleet collector." : e.message));
      return;
    }
    replace(open, openAlerts(a.open));
    replace(events, recentEvents(a.events, true, canOperate, reload, a.open));
    const rows = await get("/fleet/silences");
    const t = dataTable({
      caption: "Silences",
      empty: "No silences.",
      filterable: false,
      columns: [
        { title: "#", value: (x) => x.id, n: true },
        {
          title: "Matches",
          value: (x) => `${x.host ?? ""} ${x.group ?? ""} ${x.rule ?? ""}`,
          cell: (x) => [x.host ? `host ${x.host}` : null, x.group ? `group ${x.group}` : null, x.rule ? `rule ${x.rule}` : null].filter(Boolean).join(", ") || "everything",
        },
        { title: "Until", value: (x) => x.ends, cell: (x) => h("span", { class: x.ends < Date.now() ? "muted" : null }, time(x.ends)) },
        { title: "Comment", value: (x) => x.comment },
        { title: "By", value: (x) => x.createdBy },
        canOperate
          ? {
              title: "",
              value: () => "",
              cell: (x) =>
                x.ends > Date.now()
                  ? actionButton(
                      "End",
                      async () => {
                        await del(`/fleet/silences/${seg(String(x.id))}`);
                        reload();
                      },
                      { confirmText: `End silence ${x.id}?` },
                    )
                  : "",
            }
          : null,
      ].filter(Boolean),
    });
    t.update(rows);
    replace(silences, t.el);
  }
  await ctx.live(load);
}
