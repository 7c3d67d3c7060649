// The shell: login/logout, the navigation (what a user sees follows its tags, as in
// RabbitMQ's UI), the virtual-host and refresh selectors, and the hash router —
// RabbitMQ-shaped URLs (#/queues/%2F/orders), each page a module under pages/ loaded on
// first use. A page draws itself once into <main> and registers live(fn) callbacks that
// the refresh timer calls, so forms being filled in are never redrawn under the user.

import { credentials, login, logout, get, whenLoggedOut, ApiError } from "./api.js";
import { h, replace, msg, form } from "./dom.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const prefs = document.getElementById("prefs");
const vhostSelect = document.getElementById("vhost-select");
const refreshSelect = document.getElementById("refresh-select");

const PAGES = {
  "": "overview",
  overview: "overview",
  connections: "connections",
  channels: "channels",
  exchanges: "exchanges",
  queues: "queues",
  users: "admin",
  vhosts: "admin",
  policies: "admin",
  "operator-policies": "admin",
  limits: "admin",
  fleet: "fleet",
};

let me = null;
let fleetAvailable = false;
let liveFns = [];
let timer = null;
let generation = 0;

const pref = (k, d) => sessionStorage.getItem(`warren.${k}`) ?? d;
const setPref = (k, v) => sessionStorage.setItem(`warren.${k}`, v);

export const hasTag = (user, ...tags) => tags.some((t) => user.tags.includes(t));
const isAdmin = (u) => hasTag(u, "administrator");
const isPolicymaker = (u) => hasTag(u, "administrator", "policymaker");

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const parts = raw === "" ? [""] : raw.split("/");
  try {
    return parts.map((p) => decodeURIComponent(p));
  } catch {
    return ["?"];
  }
}

function drawNav(top) {
  const items = [
    ["", "Overview"],
    ["connections", "Connections"],
    ["channels", "Channels"],
    ["exchanges", "Exchanges"],
    ["queues", "Queues"],
  ];
  if (isAdmin(me)) items.push(["users", "Admin"]);
  else if (isPolicymaker(me)) items.push(["policies", "Admin"]);
  if (fleetAvailable) items.push(["fleet", "Fleet"]);
  const adminPages = ["users", "vhosts", "policies", "operator-policies", "limits"];
  const current = adminPages.includes(top) ? items.find((i) => i[1] === "Admin")?.[0] : top === "overview" ? "" : top;
  replace(
    nav,
    items.map(([k, label]) => h("a", { href: `#/${k}`, "aria-current": k === current ? "page" : null }, label)),
  );
}

async function fillVhosts() {
  const vhosts = await get("/vhosts?columns=name");
  const selected = pref("vhost", "");
  replace(
    vhostSelect,
    h("option", { value: "" }, "All"),
    vhosts.map((v) => h("option", { value: v.name, selected: v.name === selected }, v.name)),
  );
  if (selected && !vhosts.some((v) => v.name === selected)) setPref("vhost", "");
}

async function render() {
  const gen = ++generation;
  liveFns = [];
  if (!me) return;
  const params = parseHash();
  const top = params[0];
  drawNav(top);
  const page = PAGES[top];
  if (!page) {
    replace(main, h("h1", null, "Not found"), h("p", null, "There is no page at this address. ", h("a", { href: "#/" }, "Overview")));
    return;
  }
  let mod;
  try {
    mod = await import(`./pages/${page}.js`);
  } catch (e) {
    replace(main, msg(`Could not load the page: ${e.message}`));
    return;
  }
  if (gen !== generation) return;
  const ctx = {
    params,
    me,
    vhost: pref("vhost", "") || null,
    live(fn) {
      // a callback still running when the user has moved on must not touch the new page
      const guarded = () =>
        fn().catch((e) => {
          if (gen === generation) throw e;
        });
      liveFns.push(guarded);
      return guarded().catch(showError);
    },
    go(hash) {
      location.hash = hash;
    },
    stale: () => gen !== generation,
    pref,
    setPref,
  };
  // each render draws into its own element: a page still loading when the user moves on
  // keeps appending to its detached element, never to the new page
  const view = h("div", { class: "view" });
  main.replaceChildren(view);
  try {
    await mod.default(view, ctx);
  } catch (e) {
    if (gen === generation) showError(e);
  }
  document.title = `${main.querySelector("h1")?.textContent || "warren"} · warren`;
}

function showError(e) {
  if (e instanceof ApiError && e.status === 404) {
    replace(main, h("h1", null, "Not found"), msg(`${e.message}: it may have been deleted.`), h("p", null, h("a", { href: "#/" }, "Overview")));
    liveFns = [];
    return;
  }
  let box = main.querySelector(":scope > .msg.error.live-error");
  if (!box) {
    box = msg("");
    box.classList.add("live-error");
    main.prepend(box);
  }
  box.textContent = e.message || String(e);
}

async function refresh() {
  if (document.hidden) return;
  const fns = liveFns;
  for (const fn of fns) {
    if (fns !== liveFns) return;
    try {
      await fn();
      if (fns === liveFns) main.querySelector(":scope > .live-error")?.remove();
    } catch (e) {
      if (fns === liveFns) showError(e);
    }
  }
}

function startTimer() {
  if (timer) clearInterval(timer);
  const ms = Number(pref("refresh", "5000"));
  refreshSelect.value = String(ms);
  timer = ms > 0 ? setInterval(refresh, ms) : null;
}

function showLogin(message) {
  me = null;
  liveFns = [];
  if (timer) clearInterval(timer);
  nav.hidden = true;
  prefs.hidden = true;
  const f = form({
    legend: "Log in",
    submit: "Log in",
    fields: [
      { name: "username", label: "Username", required: true, autocomplete: "username" },
      { name: "password", label: "Password", type: "password", autocomplete: "current-password" },
    ],
    async onSubmit(v) {
      try {
        await login(v.username, v.password);
      } catch (e) {
        throw new Error(e.status === 401 ? `Login failed: ${e.message}` : e.message);
      }
      await start();
    },
  });
  replace(main, h("div", { class: "login" }, h("h1", null, "warren management"), message ? msg(message) : null, f));
  document.title = "Log in · warren";
  f.inputs.username.focus();
}

async function start() {
  try {
    me = await get("/whoami");
  } catch (e) {
    logout();
    return showLogin(e.status === 401 ? `Login failed: ${e.message}` : e.message);
  }
  try {
    await get("/fleet/hosts");
    fleetAvailable = true;
  } catch {
    fleetAvailable = false;
  }
  document.getElementById("who").textContent = `${me.name}${me.tags.length ? ` (${me.tags.join(", ")})` : ""}`;
  nav.hidden = false;
  prefs.hidden = false;
  await fillVhosts().catch(() => {});
  startTimer();
  await render();
}

vhostSelect.addEventListener("change", () => {
  setPref("vhost", vhostSelect.value);
  render();
});
refreshSelect.addEventListener("change", () => {
  setPref("refresh", refreshSelect.value);
  startTimer();
});
document.getElementById("logout").addEventListener("click", () => {
  logout();
  showLogin();
});
window.addEventListener("hashchange", () => {
  render();
  main.focus({ preventScroll: true });
});
whenLoggedOut((m) => showLogin(m));
/** Pages call this after creating or deleting a vhost. */
export const reloadVhosts = () => fillVhosts().catch(() => {});

if (credentials()) start();
else showLogin();
