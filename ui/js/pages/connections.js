// Connections: the list (rates, filter, paging) and one connection's page (details,
// its channels, force-close with a reason as RabbitMQ's X-Reason header).

import { get, del, seg } from "../api.js";
import { h, replace, link, num, bytes, time, dataTable, section, kv, form, flash } from "../dom.js";
import { lineChart, rangeQuery } from "../chart.js";
import { channelColumns } from "./channels.js";

export default async function connections(main, ctx) {
  if (ctx.params[1] !== undefined) return detail(main, ctx, ctx.params[1]);
  const path = ctx.vhost ? `/vhosts/${seg(ctx.vhost)}/connections` : "/connections";
  const t = dataTable({
    caption: "Connections",
    empty: "No connections.",
    remote: (q) => get(`${path}?${q}`),
    columns: [
      { title: "Name", value: (c) => c.name, cell: (c) => link(c.name, "connections", c.name), sort: "name" },
      { title: "Virtual host", value: (c) => c.vhost, sort: "vhost" },
      { title: "User", value: (c) => c.user, sort: "user" },
      { title: "State", value: (c) => c.state, cell: (c) => h("span", { class: `state-${c.state}` }, c.state), sort: "state" },
      { title: "Client", value: (c) => clientName(c) },
      { title: "Channels", value: (c) => c.channels, n: true, sort: "channels" },
      { title: "From client", value: (c) => c.recv_oct_details?.rate ?? 0, cell: (c) => `${bytes(c.recv_oct_details?.rate ?? 0)}/s`, n: true, sort: "recv_oct_details.rate" },
      { title: "To client", value: (c) => c.send_oct_details?.rate ?? 0, cell: (c) => `${bytes(c.send_oct_details?.rate ?? 0)}/s`, n: true, sort: "send_oct_details.rate" },
    ],
  });
  main.append(h("h1", null, "Connections", ctx.vhost ? h("small", null, ` in ${ctx.vhost}`) : null), t.el);
  await ctx.live(() => t.refresh());
}

const clientName = (c) => {
  const p = c.client_properties || {};
  return [p.product, p.version].filter(Boolean).join(" ");
};

async function detail(main, ctx, name) {
  const info = h("div");
  const charts = h("div");
  const chans = dataTable({ caption: "Channels", empty: "No channels.", filterable: false, columns: channelColumns() });
  const close = form({
    legend: "Close this connection",
    submit: "Force close",
    danger: true,
    fields: [{ name: "reason", label: "Reason", value: "Closed via management plugin" }],
    async onSubmit(v) {
      if (!window.confirm(`Close connection ${name}?`)) return;
      await del(`/connections/${seg(name)}`, { "x-reason": v.reason });
      flash(`Connection ${name} closed.`);
      ctx.go("#/connections");
    },
  });
  main.append(h("h1", null, "Connection ", h("small", null, name)), info, charts, section("Channels", chans.el), close);
  await ctx.live(async () => {
    const c = await get(`/connections/${seg(name)}?${rangeQuery(ctx.pref("window", "600"), ["data_rates"])}`);
    replace(
      info,
      kv([
        ["Virtual host", c.vhost],
        ["User", c.user],
        ["State", c.state],
        ["Protocol", c.protocol],
        ["Client", clientName(c)],
        ["From", `${c.peer_host}:${c.peer_port}`],
        ["To", `${c.host}:${c.port}`],
        ["Connected at", time(c.connected_at)],
        ["Heartbeat", c.timeout !== undefined ? `${c.timeout} s` : ""],
        ["Frame max", num(c.frame_max)],
        ["Channel max", num(c.channel_max)],
        ["TLS", c.ssl ? "yes" : "no"],
        ["Received", bytes(c.recv_oct)],
        ["Sent", bytes(c.send_oct)],
      ]),
    );
    replace(
      charts,
      h(
        "div",
        { class: "charts" },
        lineChart({
          title: "Data rates (bytes)",
          asRate: true,
          series: [
            { label: "From client", details: c.recv_oct_details },
            { label: "To client", details: c.send_oct_details },
          ],
        }),
      ),
    );
    chans.update(await get(`/connections/${seg(name)}/channels`));
  });
}
