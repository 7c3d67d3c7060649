// Channels: the list with prefetch, unacked counts and message rates; one channel's page.

import { get, seg } from "../api.js";
import { h, replace, link, num, rate, rateOf, dataTable, kv, section } from "../dom.js";

export function channelColumns() {
  return [
    { title: "Channel", value: (c) => c.name, cell: (c) => link(c.name, "channels", c.name), sort: "name" },
    { title: "Virtual host", value: (c) => c.vhost, sort: "vhost" },
    { title: "User", value: (c) => c.user, sort: "user" },
    { title: "Mode", value: (c) => [c.confirm ? "confirm" : "", c.transactional ? "tx" : ""].join(" ").trim() },
    { title: "State", value: (c) => c.state },
    { title: "Consumers", value: (c) => c.consumer_count, n: true, sort: "consumer_count" },
    { title: "Prefetch", value: (c) => c.prefetch_count, n: true, sort: "prefetch_count" },
    { title: "Unacked", value: (c) => c.messages_unacknowledged, n: true, sort: "messages_unacknowledged" },
    { title: "Publish", value: (c) => rateOf(c.message_stats, "publish"), cell: (c) => rate(rateOf(c.message_stats, "publish")), n: true, sort: "message_stats.publish_details.rate" },
    {
      title: "Deliver / get",
      value: (c) => rateOf(c.message_stats, "deliver_get"),
      cell: (c) => rate(rateOf(c.message_stats, "deliver_get")),
      n: true,
      sort: "message_stats.deliver_get_details.rate",
    },
    { title: "Ack", value: (c) => rateOf(c.message_stats, "ack"), cell: (c) => rate(rateOf(c.message_stats, "ack")), n: true, sort: "message_stats.ack_details.rate" },
  ];
}

export default async function channels(main, ctx) {
  if (ctx.params[1] !== undefined) return detail(main, ctx, ctx.params[1]);
  const path = ctx.vhost ? `/vhosts/${seg(ctx.vhost)}/channels` : "/channels";
  const t = dataTable({ caption: "Channels", empty: "No channels.", remote: (q) => get(`${path}?${q}`), columns: channelColumns() });
  main.append(h("h1", null, "Channels", ctx.vhost ? h("small", null, ` in ${ctx.vhost}`) : null), t.el);
  await ctx.live(() => t.refresh());
}

async function detail(main, ctx, name) {
  const info = h("div");
  const consumers = dataTable({
    filterable: false,
    empty: "No consumers.",
    columns: [
      { title: "Consumer tag", value: (c) => c.consumer_tag },
      { title: "Queue", value: (c) => c.queue?.name, cell: (c) => link(c.queue?.name ?? "", "queues", c.queue?.vhost ?? "", c.queue?.name ?? "") },
      { title: "Ack required", value: (c) => (c.ack_required ? "yes" : "no") },
      { title: "Exclusive", value: (c) => (c.exclusive ? "yes" : "no") },
      { title: "Prefetch", value: (c) => c.prefetch_count, n: true },
    ],
  });
  main.append(h("h1", null, "Channel ", h("small", null, name)), info, section("Consumers", consumers.el));
  await ctx.live(async () => {
    const c = await get(`/channels/${seg(name)}`);
    const ms = c.message_stats || {};
    replace(
      info,
      kv([
        ["Connection", c.connection_details ? link(c.connection_details.name, "connections", c.connection_details.name) : ""],
        ["Virtual host", c.vhost],
        ["User", c.user],
        ["State", c.state],
        ["Prefetch count", num(c.prefetch_count)],
        ["Global prefetch", num(c.global_prefetch_count)],
        ["Unacked", num(c.messages_unacknowledged)],
        ["Unconfirmed", num(c.messages_unconfirmed)],
        ["Confirm mode", c.confirm ? "yes" : "no"],
        ["Transactional", c.transactional ? "yes" : "no"],
        ["Publish", rate(rateOf(ms, "publish"))],
        ["Deliver / get", rate(rateOf(ms, "deliver_get"))],
        ["Ack", rate(rateOf(ms, "ack"))],
      ]),
    );
    const all = ctx.vhost ? await get(`/consumers/${seg(ctx.vhost)}`) : await get("/consumers");
    consumers.update(all.filter((x) => x.channel_details?.name === name));
  });
}
