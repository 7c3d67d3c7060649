// Queues: the list (feature badges, filter, paging) and add form; one queue's page
// (stats and charts, consumers, bindings with add/remove, get messages with RabbitMQ's
// ack modes, publish, purge, delete).

import { get, put, post, del, seg } from "../api.js";
import { h, replace, link, route, num, rate, rateOf, bytes, time, args, dataTable, section, kv, form, flash, actionButton, msg } from "../dom.js";
import { rangeQuery } from "../chart.js";
import { features, bindingTable, publishForm } from "./exchanges.js";
import { statCharts, windowSelect } from "./overview.js";

export default async function queues(main, ctx) {
  if (ctx.params[2] !== undefined) return detail(main, ctx, ctx.params[1], ctx.params[2]);
  const path = ctx.vhost ? `/queues/${seg(ctx.vhost)}` : "/queues";
  const t = dataTable({
    caption: "Queues",
    empty: "No queues.",
    remote: (q) => get(`${path}?${q}`),
    columns: [
      { title: "Virtual host", value: (q) => q.vhost, sort: "vhost" },
      { title: "Name", value: (q) => q.name, cell: (q) => link(q.name, "queues", q.vhost, q.name), sort: "name" },
      { title: "Type", value: (q) => q.type, sort: "type" },
      { title: "Features", value: (q) => Object.keys(q.arguments || {}).join(" "), cell: features },
      { title: "State", value: (q) => q.state, sort: "state" },
      { title: "Ready", value: (q) => q.messages_ready, n: true, sort: "messages_ready" },
      { title: "Unacked", value: (q) => q.messages_unacknowledged, n: true, sort: "messages_unacknowledged" },
      { title: "Total", value: (q) => q.messages, n: true, sort: "messages" },
      { title: "Consumers", value: (q) => q.consumers, n: true, sort: "consumers" },
      { title: "Incoming", value: (q) => rateOf(q.message_stats, "publish"), cell: (q) => rate(rateOf(q.message_stats, "publish")), n: true, sort: "message_stats.publish_details.rate" },
      {
        title: "Deliver / get",
        value: (q) => rateOf(q.message_stats, "deliver_get"),
        cell: (q) => rate(rateOf(q.message_stats, "deliver_get")),
        n: true,
        sort: "message_stats.deliver_get_details.rate",
      },
      { title: "Ack", value: (q) => rateOf(q.message_stats, "ack"), cell: (q) => rate(rateOf(q.message_stats, "ack")), n: true, sort: "message_stats.ack_details.rate" },
    ],
  });
  const vhosts = (await get("/vhosts?columns=name")).map((v) => v.name);
  const load = () => t.refresh();
  const add = form({
    legend: "Add a new queue",
    submit: "Add queue",
    fields: [
      { name: "vhost", label: "Virtual host", type: "select", options: vhosts, value: ctx.vhost || vhosts[0] },
      {
        name: "type",
        label: "Type",
        type: "select",
        options: [
          ["classic", "Classic"],
          ["quorum", "Quorum"],
        ],
      },
      { name: "name", label: "Name", required: true },
      { name: "durable", label: "Durable", type: "checkbox", value: true },
      { name: "auto_delete", label: "Auto delete", type: "checkbox" },
      {
        name: "arguments",
        label: "Arguments",
        type: "args",
        hint: "key = value per line: x-message-ttl = 60000, x-max-length = 1000, x-dead-letter-exchange = dlx, x-max-priority = 10, x-overflow = reject-publish",
      },
    ],
    async onSubmit(v, f) {
      const a = { ...v.arguments };
      if (v.type !== "classic") a["x-queue-type"] = v.type;
      await put(`/queues/${seg(v.vhost)}/${seg(v.name)}`, { durable: v.durable, auto_delete: v.auto_delete, arguments: a });
      f.inputs.name.value = "";
      await ctx.live(load);
      return `Queue ${v.name} added.`;
    },
  });
  main.append(h("h1", null, "Queues", ctx.vhost ? h("small", null, ` in ${ctx.vhost}`) : null), t.el, add);
  await ctx.live(load);
}

const ACK_MODES = [
  ["ack_requeue_true", "Nack message requeue true"],
  ["reject_requeue_true", "Reject requeue true"],
  ["ack_requeue_false", "Automatic ack"],
  ["reject_requeue_false", "Reject requeue false"],
];

async function detail(main, ctx, vhost, name) {
  const base = `/queues/${seg(vhost)}/${seg(name)}`;
  const info = h("div");
  const charts = h("div");
  const reload = () => ctx.live(load);
  const consumers = dataTable({
    filterable: false,
    empty: "No consumers.",
    columns: [
      { title: "Channel", value: (c) => c.channel_details?.name, cell: (c) => link(c.channel_details?.name ?? "", "channels", c.channel_details?.name ?? "") },
      { title: "Consumer tag", value: (c) => c.consumer_tag },
      { title: "Ack required", value: (c) => (c.ack_required ? "yes" : "no") },
      { title: "Exclusive", value: (c) => (c.exclusive ? "yes" : "no") },
      { title: "Prefetch", value: (c) => c.prefetch_count, n: true },
      { title: "Active", value: (c) => (c.active === false ? "no" : "yes") },
    ],
  });
  const bindings = bindingTable(ctx, "source", reload);
  const bind = form({
    legend: "Add binding to this queue",
    submit: "Bind",
    fields: [
      { name: "source", label: "From exchange", required: true },
      { name: "routing_key", label: "Routing key" },
      { name: "arguments", label: "Arguments", type: "args" },
    ],
    async onSubmit(v) {
      await post(`/bindings/${seg(vhost)}/e/${seg(v.source)}/q/${seg(name)}`, { routing_key: v.routing_key, arguments: v.arguments });
      await reload();
      return "Binding added.";
    },
  });
  const got = h("div", { class: "got" });
  const getForm = form({
    legend: "Get messages",
    submit: "Get message(s)",
    fields: [
      { name: "ackmode", label: "Ack mode", type: "select", options: ACK_MODES },
      {
        name: "encoding",
        label: "Encoding",
        type: "select",
        options: [
          ["auto", "Auto string / base64"],
          ["base64", "base64"],
        ],
      },
      { name: "count", label: "Messages", type: "number", value: "1", min: 1 },
      { name: "truncate", label: "Truncate at (bytes)", type: "number", value: "50000", min: 1 },
    ],
    async onSubmit(v) {
      if (v.ackmode === "ack_requeue_false" && !window.confirm("Automatic ack removes the messages from the queue. Continue?")) return;
      const ms = await post(`${base}/get`, { count: v.count ?? 1, ackmode: v.ackmode, encoding: v.encoding, truncate: v.truncate ?? 50000 });
      replace(
        got,
        ms.length === 0
          ? msg("Queue is empty.", "info")
          : ms.map((m, i) =>
              h(
                "div",
                { class: "message" },
                h("h3", null, `Message ${i + 1}`),
                kv([
                  ["Exchange", m.exchange === "" ? "(AMQP default)" : m.exchange],
                  ["Routing key", m.routing_key],
                  ["Redelivered", m.redelivered ? "yes" : "no"],
                  ["Messages left", num(m.message_count)],
                  ["Properties", args(m.properties)],
                  ["Payload", h("span", null, `${num(m.payload_bytes)} bytes, encoding: ${m.payload_encoding}`, h("pre", { class: "payload" }, m.payload))],
                ]),
              ),
            ),
      );
      await reload();
    },
  });
  const danger = h(
    "fieldset",
    null,
    h("legend", null, "Purge or delete"),
    h(
      "div",
      { class: "row-actions" },
      actionButton(
        "Purge messages",
        async () => {
          await del(`${base}/contents`);
          flash(`Queue ${name} purged.`);
          await reload();
        },
        { confirmText: `Purge every ready message from ${name}?` },
      ),
      actionButton(
        "Delete queue",
        async () => {
          await del(base);
          flash(`Queue ${name} deleted.`);
          ctx.go(route("queues"));
        },
        { confirmText: `Delete queue ${name} and its messages?`, danger: true },
      ),
    ),
  );
  main.append(
    h("h1", null, "Queue ", h("small", null, `${name} in ${vhost}`)),
    h("div", { class: "tools" }, windowSelect(ctx, reload)),
    info,
    charts,
    section("Consumers", consumers.el),
    section("Bindings", bindings.el),
    bind,
    publishForm(vhost, "", name),
    getForm,
    got,
    danger,
  );
  async function load() {
    const q = await get(`${base}?${rangeQuery(ctx.pref("window", "600"), ["lengths", "msg_rates"])}`);
    const ms = q.message_stats || {};
    replace(
      info,
      kv([
        ["Type", q.type],
        ["Features", features(q)],
        ["State", q.state],
        ["Arguments", args(q.arguments)],
        ["Policy", q.policy || ""],
        ["Effective policy definition", args(q.effective_policy_definition)],
        ["Ready", num(q.messages_ready)],
        ["Unacked", num(q.messages_unacknowledged)],
        ["Total", num(q.messages)],
        ["Bytes ready", bytes(q.message_bytes_ready)],
        ["Consumers", num(q.consumers)],
        ["Consumer utilisation", q.consumer_utilisation !== undefined ? `${Math.round(q.consumer_utilisation * 100)}%` : ""],
        ["Idle since", time(q.idle_since)],
        ["Incoming", rate(rateOf(ms, "publish"))],
        ["Deliver / get", rate(rateOf(ms, "deliver_get"))],
        ["Ack", rate(rateOf(ms, "ack"))],
      ]),
    );
    replace(charts, statCharts(q, ms));
    consumers.update(q.consumer_details || []);
    bindings.update(await get(`${base}/bindings`));
  }
  await reload();
}
