/**
 * The management web UI's static files: everything under the package's `ui/`
 * directory (plain HTML, CSS and ES modules — no build step), read once at
 * start and served from memory on GET/HEAD. Only files that exist there are
 * served, so no request path can reach anything else on disk.
 *
 * Owns the UI's HTTP headers: content types, caching (every file revalidates
 * with its ETag — a new warren version is picked up at the next load, and an
 * unchanged file costs a 304), and the strict Content-Security-Policy (scripts,
 * styles and API calls from this origin only; no inline script or style, no
 * framing, no plugins).
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { IncomingMessage, ServerResponse } from "node:http";

/** dist/src/http/ui/static.js → the package root's ui/ */
export const UI_DIR = fileURLToPath(new URL("../../../../ui/", import.meta.url));

export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json",
  ".png": "image/png",
};

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
}

export class StaticFiles {
  private readonly files = new Map<string, StaticFile>();

  constructor(dir = UI_DIR) {
    const paths: string[] = [];
    try {
      walk(dir, paths);
    } catch {
      return; // no ui/ (a trimmed install): the API still works
    }
    for (const p of paths) {
      const type = TYPES[extname(p)];
      if (!type) continue;
      const body = readFileSync(p);
      const url = "/" + relative(dir, p).split(sep).join("/");
      this.files.set(url, { body, type, etag: `"${createHash("sha1").update(body).digest("base64url").slice(0, 20)}"` });
    }
    const index = this.files.get("/index.html");
    if (index) this.files.set("/", index);
  }

  /** Serve the file for this request if there is one; false when the path is not a UI file. */
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): boolean {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const f = this.files.get(pathname);
    if (!f) return false;
    const headers: Record<string, string | number> = {
      "content-type": f.type,
      "cache-control": "no-cache",
      etag: f.etag,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "content-security-policy": CSP,
      "x-frame-options": "DENY",
    };
    if (req.headers["if-none-match"] === f.etag) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    headers["content-length"] = f.body.length;
    res.writeHead(200, headers);
    res.end(req.method === "HEAD" ? undefined : f.body);
    return true;
  }
}
