// The UI's shared building blocks: elements built with h() (text always goes in as text
// nodes, never as HTML, so nothing the server returns can inject markup), number and
// time formats, sortable/filterable/paged tables, small forms and messages.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
      else if (k === "class") el.className = v;
      else if (k === "value" && "value" in el) el.value = v;
      else if (k === "checked" || k === "selected" || k === "disabled") el[k] = Boolean(v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A link to a UI route; segments are percent-encoded, so "/" as a vhost becomes %2F. */
export function link(text, ...segments) {
  return h("a", { href: route(...segments) }, text);
}
export const route = (...segments) => "#/" + segments.map((s) => encodeURIComponent(s)).join("/");

// --- formats -------------------------------------------------------------------------
export const num = (n) => (typeof n === "number" && Number.isFinite(n) ? n.toLocaleString("en") : "");
export function rate(n) {
  if (typeof n !== "number") return "";
  return (n >= 100 ? Math.round(n) : Math.round(n * 10) / 10).toLocaleString("en") + "/s";
}
export function bytes(n) {
  if (typeof n !== "number") return "";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${u[i]}`;
}
export function duration(ms) {
  if (typeof ms !== "number") return "";
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400),
    hh = Math.floor((s % 86400) / 3600),
    m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s}s`;
}
export function time(t) {
  if (t === undefined || t === null || t === "") return "";
  const d = new Date(typeof t === "number" && t < 1e12 ? t * 1000 : t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString("en-GB");
}
/** The rate of a counter in RabbitMQ's shape ({publish_details: {rate}}). */
export const rateOf = (stats, key) => (stats && stats[`${key}_details`] ? stats[`${key}_details`].rate : 0);
export const vhostLabel = (v) => v;
export const exchangeLabel = (name) => (name === "" ? "(AMQP default)" : name);

export function badge(text, cls, title) {
  return h("span", { class: cls ? `badge ${cls}` : "badge", title }, text);
}

export function msg(text, kind = "error") {
  return h("div", { class: `msg ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

export function flash(text, kind = "info") {
  const el = document.getElementById("flash");
  const m = msg(text, kind);
  el.replaceChildren(m);
  setTimeout(() => m.remove(), kind === "error" ? 10000 : 4000);
}

export function kv(rows) {
  return h(
    "table",
    { class: "kv" },
    h(
      "tbody",
      null,
      rows.filter(Boolean).map(([k, v]) => h("tr", null, h("th", { scope: "row" }, k), h("td", null, v))),
    ),
  );
}

export function cards(items) {
  return h(
    "div",
    { class: "cards" },
    items.map(([k, v, cls]) => h("div", { class: "card" }, h("div", { class: `v ${cls || ""}` }, v), h("div", { class: "k" }, k))),
  );
}

export function args(o) {
  if (!o || typeof o !== "object") return "";
  const keys = Object.keys(o);
  if (keys.length === 0) return "";
  return keys.map((k) => h("div", null, h("code", null, k), " = ", h("code", null, typeof o[k] === "object" ? JSON.stringify(o[k]) : String(o[k]))));
}

// --- tables ----------------------------------------------------------------------------
/**
 * A table that keeps its filter, sort and page across refreshes. columns: [{title,
 * value(row) (for sort/filter), cell(row)? (a node or text; default value), n? (numeric,
 * right-aligned), sort? (the API's sort key, for server paging)}].
 *
 * Local mode: create it once, then update(rows) with fresh data.
 * Server mode (`remote(query)`, as RabbitMQ's UI pages its big lists): the API filters by
 * name, sorts and pages (`page`, `page_size`, `name`, `use_regex`, `sort`, `sort_reverse`);
 * refresh() asks again with the current state; update() is not used.
 */
export function dataTable({ columns, caption, empty = "Nothing to show.", pageSize = 100, filterable = true, filterText, remote }) {
  let rows = [];
  let filter = "";
  let regex = false;
  let sortCol = -1,
    sortDesc = false,
    page = 0;
  let remoteInfo = null;
  const body = h("tbody");
  const info = h("span", { class: "hint" });
  const prev = h(
    "button",
    {
      type: "button",
      class: "secondary",
      on: {
        click: () => {
          page--;
          changed();
        },
      },
    },
    "Previous",
  );
  const next = h(
    "button",
    {
      type: "button",
      class: "secondary",
      on: {
        click: () => {
          page++;
          changed();
        },
      },
    },
    "Next",
  );
  const pager = h("div", { class: "pager" }, prev, next, info);
  const search = filterable
    ? h("input", {
        type: "search",
        placeholder: remote ? "Filter by name" : "Filter (regex)",
        "aria-label": `Filter ${caption || "rows"}`,
        on: {
          input: (e) => {
            filter = e.target.value;
            page = 0;
            changed();
          },
        },
      })
    : null;
  const regexBox =
    remote && filterable
      ? h(
          "label",
          null,
          h("input", {
            type: "checkbox",
            on: {
              change: (e) => {
                regex = e.target.checked;
                page = 0;
                changed();
              },
            },
          }),
          " Regex",
        )
      : null;
  const heads = columns.map((c, i) =>
    h(
      "th",
      { scope: "col", class: c.n ? "n" : null },
      remote && !c.sort
        ? c.title
        : h(
            "button",
            {
              type: "button",
              title: `Sort by ${c.title}`,
              on: {
                click: () => {
                  if (sortCol === i) sortDesc = !sortDesc;
                  else {
                    sortCol = i;
                    sortDesc = false;
                  }
                  page = 0;
                  changed();
                },
              },
            },
            c.title,
          ),
    ),
  );
  const status = h("div", { "aria-live": "polite" });
  const table = h("table", null, caption ? h("caption", { class: "hint" }, caption) : null, h("thead", null, h("tr", null, heads)), body);
  const root = h("div", null, search ? h("div", { class: "tools" }, search, regexBox) : null, status, h("div", { class: "scroll" }, table), pager);

  function matches(r) {
    if (!filter) return true;
    let re;
    try {
      re = new RegExp(filter, "i");
    } catch {
      re = null;
    }
    const hay = filterText ? filterText(r) : columns.map((c) => String(c.value(r) ?? "")).join(" ");
    return re ? re.test(hay) : hay.toLowerCase().includes(filter.toLowerCase());
  }
  function drawRows(slice, total, shown, pages) {
    heads.forEach((th, i) => th.setAttribute("aria-sort", i === sortCol ? (sortDesc ? "descending" : "ascending") : "none"));
    replace(
      body,
      slice.length
        ? slice.map((r) =>
            h(
              "tr",
              null,
              columns.map((c) => {
                const v = c.cell ? c.cell(r) : c.value(r);
                return h("td", { class: c.n ? "n" : null }, typeof v === "number" ? num(v) : v);
              }),
            ),
          )
        : h("tr", null, h("td", { colspan: columns.length }, total ? "No rows match the filter." : empty)),
    );
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
    pager.hidden = pages <= 1;
    info.textContent = `page ${page + 1} of ${pages} (${shown} of ${total} rows)`;
  }
  function draw() {
    let shown = rows.filter(matches);
    if (sortCol >= 0) {
      const c = columns[sortCol];
      shown = [...shown].sort((a, b) => {
        const x = c.value(a),
          y = c.value(b);
        const d = typeof x === "number" && typeof y === "number" ? x - y : String(x ?? "").localeCompare(String(y ?? ""));
        return sortDesc ? -d : d;
      });
    }
    const pages = Math.max(1, Math.ceil(shown.length / pageSize));
    page = Math.min(Math.max(0, page), pages - 1);
    drawRows(shown.slice(page * pageSize, (page + 1) * pageSize), rows.length, shown.length, pages);
  }
  async function fetchPage() {
    const q = new URLSearchParams({ page: String(page + 1), page_size: String(pageSize), name: filter, use_regex: String(regex), pagination: "true" });
    if (sortCol >= 0) {
      q.set("sort", columns[sortCol].sort);
      q.set("sort_reverse", String(sortDesc));
    }
    let r;
    try {
      r = await remote(q.toString());
    } catch (e) {
      if (/page_out_of_range|Page out of range/i.test(e.message) && page > 0) {
        page = 0;
        return fetchPage();
      }
      if (e.status === 400) {
        replace(status, msg(e.message));
        return;
      }
      throw e;
    }
    replace(status);
    remoteInfo = r;
    drawRows(r.items, r.total_count, r.filtered_count, Math.max(1, r.page_count));
  }
  function changed() {
    if (remote) fetchPage().catch((e) => replace(status, msg(e.message)));
    else draw();
  }
  if (!remote) draw();
  return {
    el: root,
    update(r) {
      rows = r || [];
      draw();
    },
    refresh: () => fetchPage(),
    get info() {
      return remoteInfo;
    },
  };
}

// --- forms -----------------------------------------------------------------------------
let uid = 0;
/**
 * A form from field specs: {name, label, type: text|password|number|select|checkbox|textarea|args,
 * options, value, hint, required}. onSubmit(values, form) may throw; the error is shown in the form.
 */
export function form({ legend, fields, submit = "Submit", onSubmit, danger = false }) {
  const status = h("div", { "aria-live": "polite" });
  const inputs = {};
  const grid = h("div", { class: "form" });
  for (const f of fields) {
    const id = `f${++uid}`;
    let input;
    if (f.type === "select")
      input = h(
        "select",
        { id, name: f.name },
        f.options.map((o) => (Array.isArray(o) ? h("option", { value: o[0], selected: o[0] === f.value }, o[1]) : h("option", { value: o, selected: o === f.value }, o))),
      );
    else if (f.type === "textarea" || f.type === "args") input = h("textarea", { id, name: f.name, placeholder: f.placeholder, rows: f.rows || 3 });
    else if (f.type === "checkbox") input = h("input", { id, name: f.name, type: "checkbox", checked: f.value });
    else input = h("input", { id, name: f.name, type: f.type || "text", required: f.required, placeholder: f.placeholder, autocomplete: f.autocomplete || "off", min: f.min });
    if (f.value !== undefined && f.type !== "checkbox" && f.type !== "select") input.value = f.value;
    if (f.hint) input.setAttribute("aria-describedby", `${id}-h`);
    inputs[f.name] = input;
    grid.append(h("label", { for: id }, f.label), h("div", null, input, f.hint ? h("div", { class: "hint", id: `${id}-h` }, f.hint) : null));
  }
  const button = h("button", { type: "submit", class: danger ? "danger" : null }, submit);
  grid.append(h("div", { class: "full" }, button, status));
  const el = h("form", { novalidate: true }, h("fieldset", null, legend ? h("legend", null, legend) : null, grid));
  el.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const values = {};
    try {
      for (const f of fields) {
        const i = inputs[f.name];
        if (f.type === "checkbox") values[f.name] = i.checked;
        else if (f.type === "number") values[f.name] = i.value === "" ? undefined : Number(i.value);
        else if (f.type === "args") values[f.name] = parseArgs(i.value);
        else values[f.name] = i.value;
        if (f.required && (values[f.name] === "" || values[f.name] === undefined)) throw new Error(`${f.label} is required`);
      }
      button.disabled = true;
      replace(status);
      const done = await onSubmit(values, el);
      if (typeof done === "string") replace(status, msg(done, "info"));
    } catch (e) {
      replace(status, msg(e.message || String(e)));
    } finally {
      button.disabled = false;
    }
  });
  el.inputs = inputs;
  return el;
}

/**
 * Arguments typed as "key = value" lines (RabbitMQ's UI has key/value rows): numbers and
 * true/false become JSON numbers and booleans, {…} / […] is parsed as JSON, anything else is a string.
 */
export function parseArgs(text) {
  const out = {};
  for (const raw of String(text || "").split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const i = line.indexOf("=");
    if (i <= 0) throw new Error(`"${line}": write arguments as key = value`);
    const k = line.slice(0, i).trim();
    const v = line.slice(i + 1).trim();
    if (/^-?\d+(\.\d+)?$/.test(v)) out[k] = Number(v);
    else if (v === "true" || v === "false") out[k] = v === "true";
    else if (/^[[{]/.test(v)) {
      try {
        out[k] = JSON.parse(v);
      } catch {
        throw new Error(`${k}: not valid JSON`);
      }
    } else out[k] = v;
  }
  return out;
}

/** A button that asks first, then runs action; errors show as a flash message. */
export function actionButton(text, action, { confirmText, danger = false, cls } = {}) {
  return h(
    "button",
    {
      type: "button",
      class: cls || (danger ? "danger" : "secondary"),
      on: {
        click: async (ev) => {
          if (confirmText && !window.confirm(confirmText)) return;
          const b = ev.currentTarget;
          b.disabled = true;
          try {
            await action();
          } catch (e) {
            flash(e.message || String(e), "error");
          } finally {
            b.disabled = false;
          }
        },
      },
    },
    text,
  );
}

export function section(title, ...children) {
  return h("section", null, h("h2", null, title), ...children);
}
