// Overview: queued-message and message-rate charts over a chosen window, global counts,
// churn, node stats (monitoring users), listeners, and definitions export/import (administrators).

import { get, post, seg } from "../api.js";
import { h, replace, cards, num, rate, rateOf, bytes, duration, dataTable, section, msg, flash, kv } from "../dom.js";
import { lineChart, rangeQuery, WINDOWS } from "../chart.js";
import { hasTag } from "../app.js";

export const RATE_SERIES = [
  ["publish", "Publish"],
  ["deliver", "Deliver (manual ack)"],
  ["deliver_no_ack", "Deliver (auto ack)"],
  ["ack", "Consumer ack"],
  ["redeliver", "Redelivered"],
  ["get", "Get (manual ack)"],
  ["get_no_ack", "Get (auto ack)"],
  ["return_unroutable", "Unroutable (return)"],
  ["drop_unroutable", "Unroutable (drop)"],
];
export const LENGTH_SERIES = [
  ["messages_ready", "Ready"],
  ["messages_unacknowledged", "Unacked"],
  ["messages", "Total"],
];

export function windowSelect(ctx, onChange) {
  const sel = h(
    "select",
    {
      "aria-label": "Chart window",
      on: {
        change: () => {
          ctx.setPref("window", sel.value);
          onChange();
        },
      },
    },
    WINDOWS.map(([v, label]) => h("option", { value: v, selected: v === ctx.pref("window", "600") }, label)),
  );
  return h("label", null, "Charts: ", sel);
}

/** The two standard charts for an object with queue lengths and message_stats. */
export function statCharts(lengths, stats, rateKeys = RATE_SERIES) {
  const present = rateKeys.filter(([k]) => stats && stats[`${k}_details`]);
  return h(
    "div",
    { class: "charts" },
    lineChart({ title: "Queued messages", series: LENGTH_SERIES.filter(([k]) => lengths[`${k}_details`]).map(([k, label]) => ({ label, details: lengths[`${k}_details`] })) }),
    lineChart({ title: "Message rates", asRate: true, series: present.map(([k, label]) => ({ label, details: stats[`${k}_details`] })) }),
  );
}

export default async function overview(main, ctx) {
  const monitor = hasTag(ctx.me, "administrator", "monitoring");
  const admin = hasTag(ctx.me, "administrator");
  const head = h("h1", null, "Overview");
  const charts = h("div");
  const totals = h("div");
  const churn = h("div");
  const nodes = h("div");
  const listeners = h("div");
  main.append(
    head,
    h(
      "div",
      { class: "tools" },
      windowSelect(ctx, () => ctx.live(draw)),
    ),
    charts,
    section("Totals", totals),
    section("Churn (per second)", churn),
  );
  if (monitor) main.append(section("Node", nodes), section("Ports and contexts", listeners));
  if (admin) main.append(definitionsSection(ctx));

  async function draw() {
    const o = await get(`/overview?${rangeQuery(ctx.pref("window", "600"), ["lengths", "msg_rates"])}`);
    replace(head, "Overview ", h("small", null, `${o.product_name} ${o.product_version} · RabbitMQ API ${o.rabbitmq_version} · ${o.node}`));
    replace(charts, statCharts(o.queue_totals || {}, o.message_stats || {}));
    const t = o.object_totals || {};
    const q = o.queue_totals || {};
    replace(
      totals,
      cards([
        ["Connections", num(t.connections)],
        ["Channels", num(t.channels)],
        ["Exchanges", num(t.exchanges)],
        ["Queues", num(t.queues)],
        ["Consumers", num(t.consumers)],
        ["Ready", num(q.messages_ready)],
        ["Unacked", num(q.messages_unacknowledged)],
        ["Publish", rate(rateOf(o.message_stats, "publish"))],
        ["Deliver / get", rate(rateOf(o.message_stats, "deliver_get"))],
        ["Ack", rate(rateOf(o.message_stats, "ack"))],
      ]),
    );
    const c = o.churn_rates || {};
    replace(
      churn,
      cards([
        ["Connections opened", rate(rateOf(c, "connection_created"))],
        ["Channels opened", rate(rateOf(c, "channel_created"))],
        ["Queues declared", rate(rateOf(c, "queue_declared"))],
      ]),
    );
    if (monitor) {
      const [n] = await get("/nodes");
      const alarms = [n.mem_alarm ? "memory" : null, n.disk_free_alarm ? "disk" : null].filter(Boolean);
      replace(
        nodes,
        kv([
          ["Name", n.name],
          ["Memory", `${bytes(n.mem_used)} of ${bytes(n.mem_limit)}`],
          ["Disk free", `${bytes(n.disk_free)} (limit ${bytes(n.disk_free_limit)})`],
          ["File descriptors", `${num(n.fd_used)} of ${num(n.fd_total)}`],
          ["Sockets", `${num(n.sockets_used)} of ${num(n.sockets_total)}`],
          ["Uptime", duration(n.uptime)],
          ["Alarms", alarms.length ? h("strong", { class: "bad" }, alarms.join(", ")) : h("span", { class: "ok" }, "none")],
          ["Processors", num(n.processors)],
        ]),
      );
      const lt = dataTable({
        filterable: false,
        columns: [
          { title: "Protocol", value: (l) => l.protocol },
          { title: "Bound to", value: (l) => l.ip_address },
          { title: "Port", value: (l) => String(l.port) },
        ],
      });
      lt.update(o.listeners || []);
      replace(listeners, lt.el);
    }
  }
  await ctx.live(draw);
}

function definitionsSection(ctx) {
  const out = h("div");
  const scope = ctx.vhost ? `virtual host ${ctx.vhost}` : "the whole broker";
  const path = ctx.vhost ? `/definitions/${seg(ctx.vhost)}` : "/definitions";
  const exportBtn = h(
    "button",
    {
      type: "button",
      on: {
        click: async () => {
          try {
            const defs = await get(path);
            const text = JSON.stringify(defs, null, 2);
            const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
            const a = h("a", { href: url, download: `warren-definitions${ctx.vhost ? `-${ctx.vhost.replace(/[^\w.-]/g, "_")}` : ""}.json` }, "Download again");
            replace(
              out,
              msg(`Exported ${defs.queues?.length ?? 0} queues, ${defs.exchanges?.length ?? 0} exchanges, ${defs.bindings?.length ?? 0} bindings, ${defs.users?.length ?? 0} users.`, "info"),
              a,
              h("details", null, h("summary", null, "Show JSON"), h("pre", { class: "defs-json" }, text)),
            );
            a.click();
          } catch (e) {
            replace(out, msg(e.message));
          }
        },
      },
    },
    "Download definitions",
  );
  const file = h("input", { type: "file", accept: ".json,application/json", "aria-label": "Definitions file" });
  const text = h("textarea", { rows: 4, "aria-label": "Definitions JSON", placeholder: "…or paste definitions JSON here" });
  const importBtn = h(
    "button",
    {
      type: "button",
      on: {
        click: async () => {
          try {
            const raw = file.files && file.files[0] ? await file.files[0].text() : text.value;
            if (!raw.trim()) throw new Error("Choose a definitions file or paste JSON first.");
            let body;
            try {
              body = JSON.parse(raw);
            } catch {
              throw new Error("That is not valid JSON.");
            }
            await post(path, body);
            replace(out, msg("Definitions imported.", "info"));
            flash("Definitions imported.");
          } catch (e) {
            replace(out, msg(e.message));
          }
        },
      },
    },
    "Upload definitions",
  );
  return section(`Export and import definitions (${scope})`, h("div", { class: "tools" }, exportBtn), h("div", { class: "tools" }, file, text, importBtn), out);
}
