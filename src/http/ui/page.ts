/**
 * The management web page served at "/": one static HTML document (kept as a
 * string so it ships inside dist/ with no asset copying) that signs in with
 * a user name and password and renders overview, queues, exchanges and
 * connections from the same JSON API everything else uses. Deliberately
 * small: no framework, no build step, refreshes every 5 s (the rate interval).
 */

export const UI_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>warren management</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #f6f6f4; }
  header { background: #5a3e2b; color: #fff; padding: 10px 20px; display: flex; gap: 20px; align-items: center; }
  header h1 { font-size: 18px; margin: 0; }
  nav a { color: #fff; margin-right: 14px; text-decoration: none; cursor: pointer; }
  nav a.on { text-decoration: underline; }
  main { padding: 16px 20px; }
  table { border-collapse: collapse; background: #fff; min-width: 60%; }
  th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; }
  th { background: #eee; }
  td.n { text-align: right; font-variant-numeric: tabular-nums; }
  form { background: #fff; padding: 20px; max-width: 280px; border: 1px solid #ddd; }
  input { display: block; margin: 6px 0 12px; width: 100%; }
  .err { color: #a00; }
  #who { margin-left: auto; font-size: 12px; }
</style>
</head>
<body>
<header><h1>warren</h1>
<nav id="nav" hidden>
  <a data-v="overview">Overview</a><a data-v="queues">Queues</a><a data-v="exchanges">Exchanges</a><a data-v="connections">Connections</a>
</nav><span id="who"></span></header>
<main id="main">
  <form id="login">
    <label>Username <input name="u" autocomplete="username" required></label>
    <label>Password <input name="p" type="password" autocomplete="current-password"></label>
    <button>Sign in</button> <span class="err" id="lerr"></span>
  </form>
</main>
<script>
"use strict";
let auth = sessionStorage.getItem("warren-auth");
let view = "overview";
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
async function api(path) {
  const r = await fetch("/api" + path, { headers: { authorization: "Basic " + auth } });
  if (r.status === 401) { sessionStorage.removeItem("warren-auth"); auth = null; throw new Error("not authorised"); }
  if (!r.ok) throw new Error(r.status + " " + (await r.text()));
  return r.json();
}
function table(cols, rows) {
  const head = "<tr>" + cols.map((c) => "<th>" + esc(c[0]) + "</th>").join("") + "</tr>";
  const body = rows.map((r) => "<tr>" + cols.map((c) => {
    const v = c[1](r);
    return typeof v === "number" ? '<td class="n">' + v + "</td>" : "<td>" + esc(v) + "</td>";
  }).join("") + "</tr>").join("");
  return "<table>" + head + (body || '<tr><td colspan="' + cols.length + '">none</td></tr>') + "</table>";
}
const rate = (o, k) => (o && o[k + "_details"] ? o[k + "_details"].rate : 0);
const views = {
  async overview() {
    const o = await api("/overview");
    const t = o.object_totals, q = o.queue_totals, m = o.message_stats || {};
    return "<h2>" + esc(o.product_name + " " + o.product_version) + " on " + esc(o.node) + "</h2>" +
      table([["", (r) => r[0]], ["", (r) => r[1]]], [
        ["connections", t.connections], ["channels", t.channels], ["queues", t.queues], ["exchanges", t.exchanges], ["consumers", t.consumers],
        ["messages ready", q.messages_ready], ["messages unacked", q.messages_unacknowledged],
        ["publish /s", rate(m, "publish")], ["deliver /s", rate(m, "deliver_get")], ["ack /s", rate(m, "ack")],
      ]);
  },
  async queues() {
    const qs = await api("/queues");
    return table([["vhost", (q) => q.vhost], ["name", (q) => q.name], ["type", (q) => q.type], ["durable", (q) => String(q.durable)],
      ["ready", (q) => q.messages_ready], ["unacked", (q) => q.messages_unacknowledged], ["consumers", (q) => q.consumers],
      ["in /s", (q) => rate(q.message_stats, "publish")], ["out /s", (q) => rate(q.message_stats, "deliver_get")]], qs);
  },
  async exchanges() {
    const xs = await api("/exchanges");
    return table([["vhost", (x) => x.vhost], ["name", (x) => x.name || "(AMQP default)"], ["type", (x) => x.type], ["durable", (x) => String(x.durable)],
      ["in /s", (x) => rate(x.message_stats, "publish_in")]], xs);
  },
  async connections() {
    const cs = await api("/connections");
    return table([["name", (c) => c.name], ["user", (c) => c.user], ["vhost", (c) => c.vhost], ["state", (c) => c.state],
      ["channels", (c) => c.channels], ["client", (c) => (c.client_properties || {}).product || ""]], cs);
  },
};
async function render() {
  if (!auth) return;
  try {
    $("main").innerHTML = await views[view]();
  } catch (e) {
    if (!auth) return location.reload();
    $("main").innerHTML = '<p class="err">' + esc(e.message) + "</p>";
  }
}
async function start() {
  try {
    const me = await api("/whoami");
    $("who").textContent = me.name + " (" + me.tags.join(", ") + ")";
    $("nav").hidden = false;
    render();
    setInterval(render, 5000);
  } catch (e) {
    $("lerr").textContent = "login failed";
  }
}
$("nav").addEventListener("click", (ev) => {
  const v = ev.target.dataset && ev.target.dataset.v;
  if (!v) return;
  view = v;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("on", a.dataset.v === v);
  render();
});
$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const f = ev.target;
  auth = btoa(unescape(encodeURIComponent(f.u.value + ":" + f.p.value)));
  sessionStorage.setItem("warren-auth", auth);
  start();
});
if (auth) start();
</script>
</body>
</html>
`;
