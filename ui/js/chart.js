// Line charts of RabbitMQ-style samples ([{sample, timestamp}], newest first) as inline SVG.
// Counters (publish, ack, …) are drawn as rates between neighbouring samples; lengths as they are.

import { h, num } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";
const COLOURS = ["#1f5fa8", "#c2410c", "#15803d", "#7c3aed", "#b91c1c", "#0e7490", "#a16207", "#be185d", "#4d7c0f", "#475569"];

function s(tag, attrs, ...kids) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const k of kids) el.appendChild(typeof k === "string" ? document.createTextNode(k) : k);
  return el;
}

/** Rates per second from cumulative counter samples (newest first) → [{t, v}] oldest first. */
export function ratesOf(samples) {
  const out = [];
  for (let i = samples.length - 1; i > 0; i--) {
    const a = samples[i],
      b = samples[i - 1];
    const dt = (b.timestamp - a.timestamp) / 1000;
    out.push({ t: b.timestamp, v: dt > 0 ? Math.max(0, (b.sample - a.sample) / dt) : 0 });
  }
  return out;
}
const valuesOf = (samples) => samples.map((x) => ({ t: x.timestamp, v: x.sample })).reverse();

/**
 * series: [{label, details (a *_details object with samples)}]; asRate: draw rates.
 * Returns a figure with an accessible name and a legend that shows the latest values.
 */
export function lineChart({ title, series, asRate }) {
  const W = 600,
    H = 160,
    L = 44,
    B = 18,
    T = 6;
  const lines = series.map((x, i) => {
    const samples = (x.details && x.details.samples) || [];
    return { label: x.label, colour: COLOURS[i % COLOURS.length], points: asRate ? ratesOf(samples) : valuesOf(samples) };
  });
  const all = lines.flatMap((l) => l.points);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": title });
  if (all.length === 0) {
    svg.appendChild(s("text", { x: W / 2, y: H / 2, "text-anchor": "middle", fill: "#555", "font-size": 13 }, "no samples yet"));
  } else {
    const t0 = Math.min(...all.map((p) => p.t)),
      t1 = Math.max(...all.map((p) => p.t));
    let max = Math.max(...all.map((p) => p.v));
    max = max <= 0 ? 1 : niceCeil(max);
    const x = (t) => L + ((t - t0) / Math.max(1, t1 - t0)) * (W - L - 4);
    const y = (v) => T + (1 - v / max) * (H - T - B);
    for (const f of [0, 0.5, 1]) {
      svg.appendChild(s("line", { x1: L, x2: W - 4, y1: y(max * f), y2: y(max * f), stroke: "#ddd", "stroke-width": 1 }));
      svg.appendChild(s("text", { x: L - 4, y: y(max * f) + 4, "text-anchor": "end", "font-size": 11, fill: "#444" }, short(max * f)));
    }
    svg.appendChild(s("text", { x: L, y: H - 4, "font-size": 11, fill: "#444" }, clock(t0)));
    svg.appendChild(s("text", { x: W - 4, y: H - 4, "font-size": 11, fill: "#444", "text-anchor": "end" }, clock(t1)));
    for (const l of lines) {
      if (l.points.length === 0) continue;
      const d = l.points.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(" ");
      svg.appendChild(s("path", { d, fill: "none", stroke: l.colour, "stroke-width": 2, "vector-effect": "non-scaling-stroke" }));
    }
  }
  const legend = h(
    "div",
    { class: "legend" },
    lines.map((l) => {
      const last = l.points.length ? l.points[l.points.length - 1].v : undefined;
      const sw = s("svg", { width: 10, height: 10, "aria-hidden": "true", class: "sw" }, s("rect", { width: 10, height: 10, rx: 2, fill: l.colour }));
      return h("span", null, sw, `${l.label}: `, last === undefined ? "–" : asRate ? `${short(last)}/s` : num(last));
    }),
  );
  return h("figure", { class: "chart" }, h("figcaption", null, h("strong", null, title)), svg, legend);
}

function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}
function short(v) {
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return v >= 10 ? String(Math.round(v)) : String(Math.round(v * 10) / 10);
}
function clock(t) {
  return new Date(t).toLocaleTimeString("en-GB");
}

/** RabbitMQ's chart windows: age and sample increment in seconds. */
export const WINDOWS = [
  ["60", "Last minute", 5],
  ["600", "Last ten minutes", 5],
  ["3600", "Last hour", 60],
  ["28800", "Last eight hours", 600],
];
export function rangeQuery(ageS, families = ["lengths", "msg_rates", "data_rates"]) {
  const w = WINDOWS.find((x) => x[0] === String(ageS)) || WINDOWS[0];
  return families.map((f) => `${f}_age=${w[0]}&${f}_incr=${w[2]}`).join("&");
}
