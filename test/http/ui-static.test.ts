/**
 * The web UI's static files as the management server serves them: content types,
 * revalidation with ETag, the strict Content-Security-Policy (and that the pages need
 * nothing it forbids: no inline script or style), only files under ui/ reachable, and
 * every ES module the pages import actually served. warren-only (RabbitMQ's UI differs).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { repoRoot, startBroker, type TestBroker } from "../helpers/broker.js";

let b: TestBroker;
let base = "";
const external = !!process.env.WARREN_TEST_URL;

before(async () => {
  if (external) return;
  b = await startBroker({ mgmt: true, options: { fleet: false } });
  const u = new URL(b.mgmtUrl!);
  base = `http://${u.host}`;
});
after(async () => b?.stop());

const uiDir = join(repoRoot, "ui");
function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : [join(dir, n)]));
}

test("index, scripts, styles and icon have their content types, nosniff and the CSP", { skip: external && "warren's UI only" }, async () => {
  for (const [path, type] of [
    ["/", "text/html; charset=utf-8"],
    ["/index.html", "text/html; charset=utf-8"],
    ["/js/app.js", "text/javascript; charset=utf-8"],
    ["/js/pages/queues.js", "text/javascript; charset=utf-8"],
    ["/style.css", "text/css; charset=utf-8"],
    ["/favicon.svg", "image/svg+xml"],
  ] as const) {
    const r = await fetch(base + path);
    assert.equal(r.status, 200, path);
    assert.equal(r.headers.get("content-type"), type, path);
    assert.equal(r.headers.get("x-content-type-options"), "nosniff");
    const csp = r.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe/);
    assert.equal(r.headers.get("cache-control"), "no-cache");
    await r.arrayBuffer();
  }
});

test("an unchanged file revalidates with its ETag (304, no body); HEAD has no body", { skip: external && "warren's UI only" }, async () => {
  const r1 = await fetch(`${base}/js/dom.js`);
  const etag = r1.headers.get("etag");
  assert.ok(etag);
  assert.equal(await r1.text(), readFileSync(join(uiDir, "js", "dom.js"), "utf8"));
  const r2 = await fetch(`${base}/js/dom.js`, { headers: { "if-none-match": etag } });
  assert.equal(r2.status, 304);
  assert.equal(await r2.text(), "");
  const r3 = await fetch(`${base}/js/dom.js`, { method: "HEAD" });
  assert.equal(r3.status, 200);
  assert.equal(Number(r3.headers.get("content-length")), statSync(join(uiDir, "js", "dom.js")).size);
});

test("only files under ui/ are reachable; other paths stay the API's 404", { skip: external && "warren's UI only" }, async () => {
  for (const p of ["/package.json", "/../package.json", "/js/../../package.json", "/%2e%2e/package.json", "/js/%2e%2e/%2e%2e/package.json", "/dist/src/index.js", "/js/", "/js"]) {
    const r = await fetch(base + p);
    assert.equal(r.status, 404, p);
    assert.match(r.headers.get("content-type") ?? "", /application\/json/, p);
    await r.arrayBuffer();
  }
  // the UI's files are read-only: other methods fall through to the API (which wants credentials)
  const put = await fetch(`${base}/js/app.js`, { method: "PUT", body: "x" });
  assert.notEqual(put.status, 200);
  await put.arrayBuffer();
});

test("the pages use nothing the CSP forbids, and every module they import is served", { skip: external && "warren's UI only" }, async () => {
  const all = files(uiDir);
  for (const f of all.filter((x) => x.endsWith(".html"))) {
    const html = readFileSync(f, "utf8");
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, `${f}: inline script`);
    assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i, `${f}: inline style or handler`);
  }
  const seen = new Set<string>();
  const queue = ["/js/app.js"];
  while (queue.length) {
    const path = queue.pop()!;
    if (seen.has(path)) continue;
    seen.add(path);
    const r = await fetch(base + path);
    assert.equal(r.status, 200, `${path} is imported but not served`);
    const src = await r.text();
    assert.doesNotMatch(src, /\binnerHTML\b|\bouterHTML\b|insertAdjacentHTML|document\.write|\beval\(|new Function/, `${path} builds markup from strings`);
    const dir = path.slice(0, path.lastIndexOf("/") + 1);
    const specs = [...src.matchAll(/\bfrom\s+"(\.[^"]+)"|\bimport\(`\.\/pages\/\$\{page\}\.js`\)|\bimport\s+"(\.[^"]+)"/g)].map((m) => m[1] ?? m[2]).filter(Boolean) as string[];
    for (const s of specs) queue.push(new URL(s, `http://x${dir}`).pathname);
    // the router loads one module per page by name
    for (const m of src.matchAll(/:\s*"([a-z]+)"/g)) if (path === "/js/app.js" && all.some((f) => f.endsWith(`/pages/${m[1]}.js`))) queue.push(`/js/pages/${m[1]}.js`);
  }
  const pages = all.filter((f) => f.includes(`${join("js", "pages")}`)).map((f) => "/" + relative(uiDir, f).split("\\").join("/"));
  for (const p of pages) assert.ok(seen.has(p), `${p} is never loaded`);
});
