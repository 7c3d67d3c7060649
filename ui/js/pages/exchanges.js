// Exchanges: the list and add form; one exchange's page (rates, bindings from and to it,
// add/remove a binding, publish a message, delete). Also the binding table and the publish
// form the queue page reuses. The default exchange is "" in JSON and "amq.default" in paths.

import { get, put, post, del, seg } from "../api.js";
import { h, replace, link, route, rate, rateOf, badge, args, dataTable, section, kv, form, flash, actionButton, exchangeLabel } from "../dom.js";
import { lineChart, rangeQuery } from "../chart.js";
import { windowSelect } from "./overview.js";

export const xPath = (name) => seg(name === "" ? "amq.default" : name);

export function features(o) {
  const a = o.arguments || {};
  return [
    o.durable ? badge("D", null, "durable") : null,
    o.auto_delete ? badge("AD", null, "auto-delete") : null,
    o.internal ? badge("I", null, "internal") : null,
    o.exclusive ? badge("Excl", null, "exclusive") : null,
    a["x-message-ttl"] !== undefined ? badge("TTL", null, `x-message-ttl: ${a["x-message-ttl"]} ms`) : null,
    a["x-expires"] !== undefined ? badge("Exp", null, `x-expires: ${a["x-expires"]} ms`) : null,
    a["x-max-length"] !== undefined ? badge("Lim", null, `x-max-length: ${a["x-max-length"]}`) : null,
    a["x-max-length-bytes"] !== undefined ? badge("Lim B", null, `x-max-length-bytes: ${a["x-max-length-bytes"]}`) : null,
    a["x-overflow"] !== undefined ? badge(a["x-overflow"], null, "x-overflow") : null,
    a["x-dead-letter-exchange"] !== undefined ? badge("DLX", null, `x-dead-letter-exchange: ${a["x-dead-letter-exchange"]}`) : null,
    a["x-dead-letter-routing-key"] !== undefined ? badge("DLK", null, `x-dead-letter-routing-key: ${a["x-dead-letter-routing-key"]}`) : null,
    a["x-max-priority"] !== undefined ? badge("Pri", null, `x-max-priority: ${a["x-max-priority"]}`) : null,
    a["x-single-active-consumer"] ? badge("SAC", null, "single active consumer") : null,
    a["alternate-exchange"] !== undefined ? badge("AE", null, `alternate-exchange: ${a["alternate-exchange"]}`) : null,
    o.policy ? badge(o.policy, "b-ok", "policy") : null,
  ];
}

export default async function exchanges(main, ctx) {
  if (ctx.params[2] !== undefined) return detail(main, ctx, ctx.params[1], ctx.params[2]);
  const path = ctx.vhost ? `/exchanges/${seg(ctx.vhost)}` : "/exchanges";
  const t = dataTable({
    caption: "Exchanges",
    empty: "No exchanges.",
    remote: (q) => get(`${path}?${q}`),
    columns: [
      { title: "Virtual host", value: (x) => x.vhost, sort: "vhost" },
      { title: "Name", value: (x) => x.name, cell: (x) => link(exchangeLabel(x.name), "exchanges", x.vhost, x.name === "" ? "amq.default" : x.name), sort: "name" },
      { title: "Type", value: (x) => x.type, sort: "type" },
      { title: "Features", value: (x) => (x.durable ? "D" : ""), cell: features },
      {
        title: "Message rate in",
        value: (x) => rateOf(x.message_stats, "publish_in"),
        cell: (x) => rate(rateOf(x.message_stats, "publish_in")),
        n: true,
        sort: "message_stats.publish_in_details.rate",
      },
      {
        title: "Message rate out",
        value: (x) => rateOf(x.message_stats, "publish_out"),
        cell: (x) => rate(rateOf(x.message_stats, "publish_out")),
        n: true,
        sort: "message_stats.publish_out_details.rate",
      },
    ],
  });
  const vhosts = (await get("/vhosts?columns=name")).map((v) => v.name);
  const add = form({
    legend: "Add a new exchange",
    submit: "Add exchange",
    fields: [
      { name: "vhost", label: "Virtual host", type: "select", options: vhosts, value: ctx.vhost || vhosts[0] },
      { name: "name", label: "Name", required: true },
      { name: "type", label: "Type", type: "select", options: ["direct", "fanout", "headers", "topic"] },
      { name: "durable", label: "Durable", type: "checkbox", value: true },
      { name: "auto_delete", label: "Auto delete", type: "checkbox" },
      { name: "internal", label: "Internal", type: "checkbox" },
      { name: "arguments", label: "Arguments", type: "args", hint: "one key = value per line, e.g. alternate-exchange = my-ae" },
    ],
    async onSubmit(v, f) {
      await put(`/exchanges/${seg(v.vhost)}/${xPath(v.name)}`, { type: v.type, durable: v.durable, auto_delete: v.auto_delete, internal: v.internal, arguments: v.arguments });
      f.inputs.name.value = "";
      await ctx.live(load);
      return `Exchange ${v.name} added.`;
    },
  });
  const load = () => t.refresh();
  main.append(h("h1", null, "Exchanges", ctx.vhost ? h("small", null, ` in ${ctx.vhost}`) : null), t.el, add);
  await ctx.live(load);
}

/** Bindings as a table; `side` says which end to show and link ("source" or "destination"). */
export function bindingTable(_ctx, side, _onChange) {
  return dataTable({
    filterable: false,
    empty: "No bindings.",
    columns: [
      side === "source"
        ? { title: "From", value: (b) => b.source, cell: (b) => (b.source === "" ? "(default exchange binding)" : link(b.source, "exchanges", b.vhost, b.source)) }
        : {
            title: "To",
            value: (b) => b.destination,
            cell: (b) =>
              h("span", null, badge(b.destination_type === "queue" ? "queue" : "exchange"), link(b.destination, b.destination_type === "queue" ? "queues" : "exchanges", b.vhost, b.destination)),
          },
      { title: "Routing key", value: (b) => b.routing_key, cell: (b) => h("code", null, b.routing_key) },
      { title: "Arguments", value: (b) => JSON.stringify(b.arguments), cell: (b) => args(b.arguments) },
      {
        title: "",
        value: () => "",
        cell: (b) =>
          b.source === ""
            ? ""
            : actionButton("Unbind", async () => {
                const d = b.destination_type === "queue" ? "q" : "e";
                await del(`/bindings/${seg(b.vhost)}/e/${seg(b.source)}/${d}/${seg(b.destination)}/${seg(b.properties_key)}`);
                flash("Binding removed.");
                await onChange();
              }),
      },
    ],
  });
}

/** The "Publish message" form: RabbitMQ's fields (delivery mode, headers, properties, payload). */
export function publishForm(vhost, exchange, fixedKey) {
  const fields = [];
  if (fixedKey === undefined) fields.push({ name: "routing_key", label: "Routing key" });
  fields.push(
    {
      name: "delivery_mode",
      label: "Delivery mode",
      type: "select",
      options: [
        ["1", "1 - non-persistent"],
        ["2", "2 - persistent"],
      ],
    },
    { name: "headers", label: "Headers", type: "args", hint: "key = value per line" },
    { name: "props", label: "Properties", type: "args", hint: "e.g. content_type = text/plain, correlation_id = 42, expiration = 60000" },
    { name: "payload", label: "Payload", type: "textarea", rows: 4 },
    {
      name: "payload_encoding",
      label: "Payload encoding",
      type: "select",
      options: [
        ["string", "String"],
        ["base64", "Base64"],
      ],
    },
  );
  return form({
    legend: fixedKey === undefined ? "Publish message" : "Publish message (to this queue, through the default exchange)",
    submit: "Publish message",
    fields,
    async onSubmit(v) {
      const properties = { ...v.props, delivery_mode: Number(v.delivery_mode) };
      if (Object.keys(v.headers).length) properties.headers = v.headers;
      const r = await post(`/exchanges/${seg(vhost)}/${xPath(exchange)}/publish`, {
        routing_key: fixedKey ?? v.routing_key,
        properties,
        payload: v.payload,
        payload_encoding: v.payload_encoding,
      });
      return r.routed ? "Message published." : "Message published, but not routed.";
    },
  });
}

async function detail(main, ctx, vhost, pathName) {
  const name = pathName === "amq.default" ? "" : pathName;
  const info = h("div");
  const charts = h("div");
  const reload = () => ctx.live(load);
  const outgoing = bindingTable(ctx, "destination", reload);
  const incoming = bindingTable(ctx, "source", reload);
  const bind = form({
    legend: "Add binding from this exchange",
    submit: "Bind",
    fields: [
      {
        name: "dtype",
        label: "To",
        type: "select",
        options: [
          ["q", "queue"],
          ["e", "exchange"],
        ],
      },
      { name: "dest", label: "Name", required: true },
      { name: "routing_key", label: "Routing key" },
      { name: "arguments", label: "Arguments", type: "args" },
    ],
    async onSubmit(v) {
      await post(`/bindings/${seg(vhost)}/e/${seg(name)}/${v.dtype}/${seg(v.dest)}`, { routing_key: v.routing_key, arguments: v.arguments });
      await reload();
      return "Binding added.";
    },
  });
  const remove = h(
    "fieldset",
    null,
    h("legend", null, "Delete this exchange"),
    actionButton(
      "Delete",
      async () => {
        await del(`/exchanges/${seg(vhost)}/${xPath(name)}`);
        flash(`Exchange ${exchangeLabel(name)} deleted.`);
        ctx.go(route("exchanges"));
      },
      { confirmText: `Delete exchange ${exchangeLabel(name)}?`, danger: true },
    ),
  );
  main.append(
    h("h1", null, "Exchange ", h("small", null, `${exchangeLabel(name)} in ${vhost}`)),
    h("div", { class: "tools" }, windowSelect(ctx, reload)),
    info,
    charts,
    section("Bindings from this exchange", outgoing.el),
    name !== "" ? bind : null,
    section("Bindings to this exchange", incoming.el),
    publishForm(vhost, name),
    name !== "" && !name.startsWith("amq.") ? remove : null,
  );
  async function load() {
    const x = await get(`/exchanges/${seg(vhost)}/${xPath(name)}?${rangeQuery(ctx.pref("window", "600"), ["msg_rates"])}`);
    const ms = x.message_stats || {};
    replace(
      info,
      kv([
        ["Type", x.type],
        ["Features", features(x)],
        ["Arguments", args(x.arguments)],
        ["Policy", x.policy || ""],
        ["Message rate in", rate(rateOf(ms, "publish_in"))],
        ["Message rate out", rate(rateOf(ms, "publish_out"))],
      ]),
    );
    replace(
      charts,
      h(
        "div",
        { class: "charts" },
        lineChart({
          title: "Message rates",
          asRate: true,
          series: [
            { label: "Publish (in)", details: ms.publish_in_details },
            { label: "Publish (out)", details: ms.publish_out_details },
          ].filter((s) => s.details),
        }),
      ),
    );
    outgoing.update(await get(`/exchanges/${seg(vhost)}/${xPath(name)}/bindings/source`));
    incoming.update(await get(`/exchanges/${seg(vhost)}/${xPath(name)}/bindings/destination`));
  }
  await reload();
}
