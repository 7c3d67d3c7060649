/**
 * The management API's route table: each resource module contributes
 * `{method, path, handler}` rows with RabbitMQ's paths ("/api/queues/:vhost/:name").
 * Matching is segment by segment on the raw path, and each segment is
 * percent-decoded only after splitting — so the vhost "/" arrives as "%2F" and
 * names may contain "/" as RabbitMQ allows.
 */
import type { Ctx } from "./context.js";

export type Method = "GET" | "PUT" | "POST" | "DELETE";
export type Handler = (ctx: Ctx) => Promise<void> | void;

export interface Route {
  method: Method;
  path: string;
  handler: Handler;
}

interface Compiled extends Route {
  segments: string[];
}

export type Match = { route: Route; params: string[] } | "wrong-method" | null;

export class RouteTable {
  private readonly routes: Compiled[];

  constructor(routes: Route[]) {
    this.routes = routes.map((r) => ({ ...r, segments: r.path.split("/").slice(1) }));
  }

  match(method: string, pathname: string): Match {
    let raw = pathname.split("/").slice(1);
    // tolerate one trailing slash ("/api/queues/")
    if (raw.length > 1 && raw[raw.length - 1] === "") raw = raw.slice(0, -1);
    let segs: string[];
    try {
      segs = raw.map((s) => decodeURIComponent(s));
    } catch {
      return null;
    }
    let pathMatched = false;
    for (const r of this.routes) {
      const params = matchSegments(r.segments, segs);
      if (!params) continue;
      if (r.method === method || (method === "HEAD" && r.method === "GET")) return { route: r, params };
      pathMatched = true;
    }
    return pathMatched ? "wrong-method" : null;
  }
}

function matchSegments(pattern: string[], segs: string[]): string[] | null {
  if (pattern.length !== segs.length) return null;
  const params: string[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const s = segs[i]!;
    if (p.startsWith(":")) params.push(s);
    else if (p !== s) return null;
  }
  return params;
}
