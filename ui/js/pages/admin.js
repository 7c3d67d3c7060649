// Admin: users (add, tags, password, delete, permissions and topic permissions), virtual
// hosts (add, detail, delete), policies and operator policies, and limits — the pages
// RabbitMQ's UI puts under its Admin tab. Administrators see all; a policymaker only
// Policies, as in RabbitMQ.

import { get, put, del, seg, ApiError } from "../api.js";
import { h, replace, link, route, num, rate, rateOf, args, dataTable, section, kv, form, flash, actionButton, msg } from "../dom.js";
import { rangeQuery } from "../chart.js";
import { hasTag, reloadVhosts } from "../app.js";
import { statCharts, windowSelect } from "./overview.js";

const TABS = [
  ["users", "Users"],
  ["vhosts", "Virtual Hosts"],
  ["policies", "Policies"],
  ["limits", "Limits"],
];
const TAGS = ["administrator", "monitoring", "policymaker", "management", "impersonator"];

function subnav(ctx, current) {
  const admin = hasTag(ctx.me, "administrator");
  return h(
    "nav",
    { class: "subnav", "aria-label": "Admin" },
    TABS.filter(([k]) => admin || k === "policies").map(([k, label]) => h("a", { href: `#/${k}`, "aria-current": k === current ? "page" : null }, label)),
  );
}

export default async function admin(main, ctx) {
  const [top, a, b] = ctx.params;
  const tab = top === "operator-policies" ? "policies" : top;
  main.append(subnav(ctx, tab));
  if (tab !== "policies" && !hasTag(ctx.me, "administrator")) {
    main.append(h("h1", null, "Admin"), msg("This page needs the administrator tag."));
    return;
  }
  if (tab === "users") return a === undefined ? users(main, ctx) : user(main, ctx, a);
  if (tab === "vhosts") return a === undefined ? vhosts(main, ctx) : vhost(main, ctx, a);
  if (tab === "policies") return policies(main, ctx, a, b);
  if (tab === "limits") return limits(main, ctx);
}

const vhostNames = async () => (await get("/vhosts?columns=name")).map((v) => v.name);

// --- users ---------------------------------------------------------------------------
function tagPicker(input) {
  return h(
    "div",
    { class: "row-actions" },
    "Set: ",
    TAGS.map((t) =>
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          on: {
            click: () => {
              const cur = input.value
                .split(",")
                .map((x) => x.trim())
                .filter(Boolean);
              if (!cur.includes(t)) cur.push(t);
              input.value = cur.join(", ");
            },
          },
        },
        t,
      ),
    ),
    h(
      "button",
      {
        type: "button",
        class: "secondary",
        on: {
          click: () => {
            input.value = "";
          },
        },
      },
      "none",
    ),
  );
}

const tagList = (t) =>
  Array.isArray(t)
    ? t
    : String(t || "")
        .split(",")
        .filter(Boolean);

async function users(main, ctx) {
  const t = dataTable({
    caption: "Users",
    columns: [
      { title: "Name", value: (u) => u.name, cell: (u) => link(u.name, "users", u.name) },
      { title: "Tags", value: (u) => tagList(u.tags).join(", ") },
      { title: "Can access virtual hosts", value: (u) => u.vhosts },
      { title: "Has password", value: (u) => (u.password_hash ? "yes" : "no") },
    ],
  });
  const load = async () => {
    const [us, perms] = await Promise.all([get("/users"), get("/permissions")]);
    for (const u of us)
      u.vhosts =
        perms
          .filter((p) => p.user === u.name)
          .map((p) => p.vhost)
          .join(", ") || "No access";
    t.update(us);
  };
  const add = form({
    legend: "Add a user",
    submit: "Add user",
    fields: [
      { name: "username", label: "Username", required: true },
      { name: "password", label: "Password", type: "password", autocomplete: "new-password" },
      { name: "confirm", label: "Password (confirm)", type: "password", autocomplete: "new-password" },
      { name: "tags", label: "Tags", hint: "comma-separated" },
    ],
    async onSubmit(v, f) {
      if (v.password !== v.confirm) throw new Error("The passwords do not match.");
      const body = {
        tags: v.tags
          .split(",")
          .map((x) => x.trim())
          .filter(Boolean)
          .join(","),
      };
      if (v.password) body.password = v.password;
      else body.password_hash = "";
      await put(`/users/${seg(v.username)}`, body);
      for (const k of ["username", "password", "confirm", "tags"]) f.inputs[k].value = "";
      await ctx.live(load);
      return `User ${v.username} added. Give it permissions on its page.`;
    },
  });
  add.inputs.tags.after(tagPicker(add.inputs.tags));
  main.append(h("h1", null, "Users"), t.el, add);
  await ctx.live(load);
}

async function user(main, ctx, name) {
  const info = h("div");
  const perms = dataTable({
    filterable: false,
    empty: "No permissions.",
    columns: [
      { title: "Virtual host", value: (p) => p.vhost, cell: (p) => link(p.vhost, "vhosts", p.vhost) },
      { title: "Configure regexp", value: (p) => p.configure, cell: (p) => h("code", null, p.configure) },
      { title: "Write regexp", value: (p) => p.write, cell: (p) => h("code", null, p.write) },
      { title: "Read regexp", value: (p) => p.read, cell: (p) => h("code", null, p.read) },
      {
        title: "",
        value: () => "",
        cell: (p) =>
          actionButton("Clear", async () => {
            await del(`/permissions/${seg(p.vhost)}/${seg(name)}`);
            await reload();
          }),
      },
    ],
  });
  const topics = dataTable({
    filterable: false,
    empty: "No topic permissions.",
    columns: [
      { title: "Virtual host", value: (p) => p.vhost },
      { title: "Exchange", value: (p) => p.exchange },
      { title: "Write regexp", value: (p) => p.write, cell: (p) => h("code", null, p.write) },
      { title: "Read regexp", value: (p) => p.read, cell: (p) => h("code", null, p.read) },
      {
        title: "",
        value: () => "",
        cell: (p) =>
          actionButton("Clear", async () => {
            await del(`/topic-permissions/${seg(p.vhost)}/${seg(name)}`);
            await reload();
          }),
      },
    ],
  });
  const reload = () => ctx.live(load);
  const vs = await vhostNames();
  const setPerm = form({
    legend: "Set permission",
    submit: "Set permission",
    fields: [
      { name: "vhost", label: "Virtual host", type: "select", options: vs, value: ctx.vhost || vs[0] },
      { name: "configure", label: "Configure regexp", value: ".*" },
      { name: "write", label: "Write regexp", value: ".*" },
      { name: "read", label: "Read regexp", value: ".*" },
    ],
    async onSubmit(v) {
      await put(`/permissions/${seg(v.vhost)}/${seg(name)}`, { configure: v.configure, write: v.write, read: v.read });
      await reload();
      return "Permission set.";
    },
  });
  const setTopic = form({
    legend: "Set topic permission",
    submit: "Set topic permission",
    fields: [
      { name: "vhost", label: "Virtual host", type: "select", options: vs, value: ctx.vhost || vs[0] },
      { name: "exchange", label: "Exchange", value: "amq.topic" },
      { name: "write", label: "Write regexp", value: ".*" },
      { name: "read", label: "Read regexp", value: ".*" },
    ],
    async onSubmit(v) {
      await put(`/topic-permissions/${seg(v.vhost)}/${seg(name)}`, { exchange: v.exchange, write: v.write, read: v.read });
      await reload();
      return "Topic permission set.";
    },
  });
  const update = form({
    legend: "Update this user",
    submit: "Update user",
    fields: [
      { name: "password", label: "New password", type: "password", autocomplete: "new-password", hint: "leave empty to keep the current one" },
      { name: "tags", label: "Tags" },
    ],
    async onSubmit(v) {
      const body = {
        tags: v.tags
          .split(",")
          .map((x) => x.trim())
          .filter(Boolean)
          .join(","),
      };
      if (v.password) body.password = v.password; // neither password nor hash: the password stays
      await put(`/users/${seg(name)}`, body);
      update.inputs.password.value = "";
      await reload();
      return "User updated.";
    },
  });
  update.inputs.tags.after(tagPicker(update.inputs.tags));
  const remove = h(
    "fieldset",
    null,
    h("legend", null, "Delete this user"),
    actionButton(
      "Delete user",
      async () => {
        await del(`/users/${seg(name)}`);
        flash(`User ${name} deleted.`);
        ctx.go(route("users"));
      },
      { confirmText: `Delete user ${name}?`, danger: true },
    ),
  );
  let current = {};
  let filledTags = false;
  main.append(h("h1", null, "User ", h("small", null, name)), info, section("Permissions", perms.el), setPerm, section("Topic permissions", topics.el), setTopic, update, remove);
  async function load() {
    current = await get(`/users/${seg(name)}`);
    if (!filledTags) {
      update.inputs.tags.value = tagList(current.tags).join(", ");
      filledTags = true;
    }
    replace(
      info,
      kv([
        ["Tags", tagList(current.tags).join(", ") || "(none)"],
        ["Has password", current.password_hash ? "yes" : "no"],
        ["Hashing", current.hashing_algorithm || ""],
      ]),
    );
    perms.update(await get(`/users/${seg(name)}/permissions`));
    topics.update(await get(`/users/${seg(name)}/topic-permissions`));
  }
  await reload();
}

// --- virtual hosts ---------------------------------------------------------------------
async function vhosts(main, ctx) {
  const t = dataTable({
    caption: "Virtual hosts",
    columns: [
      { title: "Name", value: (v) => v.name, cell: (v) => link(v.name, "vhosts", v.name) },
      { title: "Description", value: (v) => v.description || "" },
      { title: "Tags", value: (v) => tagList(v.tags).join(", ") },
      { title: "Default queue type", value: (v) => v.default_queue_type },
      { title: "Ready", value: (v) => v.messages_ready, n: true },
      { title: "Unacked", value: (v) => v.messages_unacknowledged, n: true },
      { title: "Total", value: (v) => v.messages, n: true },
      { title: "Publish", value: (v) => rateOf(v.message_stats, "publish"), cell: (v) => rate(rateOf(v.message_stats, "publish")), n: true },
      { title: "Deliver / get", value: (v) => rateOf(v.message_stats, "deliver_get"), cell: (v) => rate(rateOf(v.message_stats, "deliver_get")), n: true },
    ],
  });
  const load = async () => t.update(await get("/vhosts"));
  const add = form({
    legend: "Add a new virtual host",
    submit: "Add virtual host",
    fields: [
      { name: "name", label: "Name", required: true },
      { name: "description", label: "Description" },
      { name: "tags", label: "Tags", hint: "comma-separated" },
      {
        name: "default_queue_type",
        label: "Default queue type",
        type: "select",
        options: [
          ["", "(server default)"],
          ["classic", "Classic"],
          ["quorum", "Quorum"],
        ],
      },
    ],
    async onSubmit(v, f) {
      const body = { description: v.description, tags: v.tags };
      if (v.default_queue_type) body.default_queue_type = v.default_queue_type;
      await put(`/vhosts/${seg(v.name)}`, body);
      for (const k of ["name", "description", "tags"]) f.inputs[k].value = "";
      await reloadVhosts();
      await ctx.live(load);
      return `Virtual host ${v.name} added.`;
    },
  });
  main.append(h("h1", null, "Virtual hosts"), t.el, add);
  await ctx.live(load);
}

async function vhost(main, ctx, name) {
  const info = h("div");
  const charts = h("div");
  const perms = dataTable({
    filterable: false,
    empty: "No permissions.",
    columns: [
      { title: "User", value: (p) => p.user, cell: (p) => link(p.user, "users", p.user) },
      { title: "Configure regexp", value: (p) => p.configure, cell: (p) => h("code", null, p.configure) },
      { title: "Write regexp", value: (p) => p.write, cell: (p) => h("code", null, p.write) },
      { title: "Read regexp", value: (p) => p.read, cell: (p) => h("code", null, p.read) },
      {
        title: "",
        value: () => "",
        cell: (p) =>
          actionButton("Clear", async () => {
            await del(`/permissions/${seg(name)}/${seg(p.user)}`);
            await reload();
          }),
      },
    ],
  });
  const reload = () => ctx.live(load);
  const userNames = (await get("/users")).map((u) => u.name);
  const setPerm = form({
    legend: "Set permission",
    submit: "Set permission",
    fields: [
      { name: "user", label: "User", type: "select", options: userNames, value: ctx.me.name },
      { name: "configure", label: "Configure regexp", value: ".*" },
      { name: "write", label: "Write regexp", value: ".*" },
      { name: "read", label: "Read regexp", value: ".*" },
    ],
    async onSubmit(v) {
      await put(`/permissions/${seg(name)}/${seg(v.user)}`, { configure: v.configure, write: v.write, read: v.read });
      await reload();
      return "Permission set.";
    },
  });
  const remove = h(
    "fieldset",
    null,
    h("legend", null, "Delete this virtual host"),
    actionButton(
      "Delete virtual host",
      async () => {
        await del(`/vhosts/${seg(name)}`);
        await reloadVhosts();
        flash(`Virtual host ${name} deleted.`);
        ctx.go(route("vhosts"));
      },
      { confirmText: `Delete virtual host ${name} with all its queues, exchanges and messages?`, danger: true },
    ),
  );
  main.append(h("h1", null, "Virtual host ", h("small", null, name)), h("div", { class: "tools" }, windowSelect(ctx, reload)), info, charts, section("Permissions", perms.el), setPerm, remove);
  async function load() {
    const v = await get(`/vhosts/${seg(name)}?${rangeQuery(ctx.pref("window", "600"), ["lengths", "msg_rates"])}`);
    replace(
      info,
      kv([
        ["Description", v.description || ""],
        ["Tags", tagList(v.tags).join(", ")],
        ["Default queue type", v.default_queue_type],
        ["Ready", num(v.messages_ready)],
        ["Unacked", num(v.messages_unacknowledged)],
        ["Total", num(v.messages)],
      ]),
    );
    replace(charts, statCharts(v, v.message_stats || {}));
    perms.update(await get(`/vhosts/${seg(name)}/permissions`));
  }
  await reload();
}

// --- policies --------------------------------------------------------------------------
/** A table + form for /api/policies or /api/operator-policies; a 404 means the server has no such API. */
async function policyBlock(ctx, path, title, vs) {
  const out = h("div");
  const t = dataTable({
    filterable: true,
    caption: title,
    empty: "No policies.",
    columns: [
      { title: "Virtual host", value: (p) => p.vhost },
      { title: "Name", value: (p) => p.name },
      { title: "Pattern", value: (p) => p.pattern, cell: (p) => h("code", null, p.pattern) },
      { title: "Apply to", value: (p) => p["apply-to"] },
      { title: "Definition", value: (p) => JSON.stringify(p.definition), cell: (p) => args(p.definition) },
      { title: "Priority", value: (p) => p.priority, n: true },
      {
        title: "",
        value: () => "",
        cell: (p) =>
          actionButton(
            "Delete",
            async () => {
              await del(`/${path}/${seg(p.vhost)}/${seg(p.name)}`);
              await ctx.live(load);
            },
            { confirmText: `Delete policy ${p.name}?` },
          ),
      },
    ],
  });
  const load = async () => {
    try {
      t.update(await get(ctx.vhost ? `/${path}/${seg(ctx.vhost)}` : `/${path}`));
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) replace(out, msg(`${title}: this server does not offer /api/${path}.`, "info"));
      else throw e;
    }
  };
  const add = form({
    legend: `Add / update ${title.toLowerCase().replace(/s$/, "")}`,
    submit: "Add / update policy",
    fields: [
      { name: "vhost", label: "Virtual host", type: "select", options: vs, value: ctx.vhost || vs[0] },
      { name: "name", label: "Name", required: true },
      { name: "pattern", label: "Pattern", required: true, hint: "regular expression on queue / exchange names" },
      {
        name: "apply",
        label: "Apply to",
        type: "select",
        options:
          path === "operator-policies"
            ? [["queues", "Queues"]]
            : [
                ["all", "Exchanges and queues"],
                ["exchanges", "Exchanges"],
                ["queues", "Queues"],
              ],
      },
      { name: "priority", label: "Priority", type: "number", value: "0" },
      { name: "definition", label: "Definition", type: "args", hint: "key = value per line: max-length = 1000, message-ttl = 60000, dead-letter-exchange = dlx" },
    ],
    async onSubmit(v) {
      await put(`/${path}/${seg(v.vhost)}/${seg(v.name)}`, { pattern: v.pattern, "apply-to": v.apply, priority: v.priority ?? 0, definition: v.definition });
      await ctx.live(load);
      return `Policy ${v.name} set.`;
    },
  });
  out.append(t.el, add);
  return { el: out, load };
}

async function policies(main, ctx) {
  const vs = await vhostNames();
  const user = await policyBlock(ctx, "policies", "User policies", vs);
  main.append(h("h1", null, "Policies"), section("User policies", user.el));
  await ctx.live(user.load);
  if (hasTag(ctx.me, "administrator")) {
    const op = await policyBlock(ctx, "operator-policies", "Operator policies", vs);
    main.append(section("Operator policies", op.el));
    await ctx.live(op.load);
  }
}

// --- limits ----------------------------------------------------------------------------
async function limits(main, ctx) {
  const vs = await vhostNames();
  const vhostOut = h("div");
  const userOut = h("div");
  const vt = dataTable({
    filterable: false,
    empty: "No virtual host limits.",
    columns: [
      { title: "Virtual host", value: (l) => l.vhost },
      { title: "Limits", value: (l) => JSON.stringify(l.value), cell: (l) => args(l.value) },
      {
        title: "",
        value: () => "",
        cell: (l) =>
          h(
            "div",
            { class: "row-actions" },
            Object.keys(l.value || {}).map((k) =>
              actionButton(`Clear ${k}`, async () => {
                await del(`/vhost-limits/${seg(l.vhost)}/${seg(k)}`);
                await ctx.live(load);
              }),
            ),
          ),
      },
    ],
  });
  const ut = dataTable({
    filterable: false,
    empty: "No user limits.",
    columns: [
      { title: "User", value: (l) => l.user },
      { title: "Limits", value: (l) => JSON.stringify(l.value), cell: (l) => args(l.value) },
      {
        title: "",
        value: () => "",
        cell: (l) =>
          h(
            "div",
            { class: "row-actions" },
            Object.keys(l.value || {}).map((k) =>
              actionButton(`Clear ${k}`, async () => {
                await del(`/user-limits/${seg(l.user)}/${seg(k)}`);
                await ctx.live(load);
              }),
            ),
          ),
      },
    ],
  });
  vhostOut.append(
    vt.el,
    form({
      legend: "Set / update a virtual host limit",
      submit: "Set limit",
      fields: [
        { name: "vhost", label: "Virtual host", type: "select", options: vs, value: ctx.vhost || vs[0] },
        { name: "limit", label: "Limit", type: "select", options: ["max-connections", "max-queues"] },
        { name: "value", label: "Value", type: "number", required: true, hint: "-1 for no limit" },
      ],
      async onSubmit(v) {
        await put(`/vhost-limits/${seg(v.vhost)}/${seg(v.limit)}`, { value: v.value });
        await ctx.live(load);
        return "Limit set.";
      },
    }),
  );
  userOut.append(
    ut.el,
    form({
      legend: "Set / update a user limit",
      submit: "Set limit",
      fields: [
        { name: "user", label: "User", required: true },
        { name: "limit", label: "Limit", type: "select", options: ["max-connections", "max-channels"] },
        { name: "value", label: "Value", type: "number", required: true, hint: "-1 for no limit" },
      ],
      async onSubmit(v) {
        await put(`/user-limits/${seg(v.user)}/${seg(v.limit)}`, { value: v.value });
        await ctx.live(load);
        return "Limit set.";
      },
    }),
  );
  main.append(h("h1", null, "Limits"), section("Virtual host limits", vhostOut), section("User limits", userOut));
  async function load() {
    for (const [path, t, out, label] of [
      ["vhost-limits", vt, vhostOut, "Virtual host limits"],
      ["user-limits", ut, userOut, "User limits"],
    ]) {
      try {
        t.update(await get(`/${path}`));
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) replace(out, msg(`${label}: this server does not offer /api/${path}.`, "info"));
        else throw e;
      }
    }
  }
  await ctx.live(load);
}
