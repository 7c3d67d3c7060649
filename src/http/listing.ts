/**
 * RabbitMQ's list query options, once for every list endpoint (rabbit_mgmt_util's
 * reply_list / reply_list_or_paginate in 3.10):
 *
 * - sort=a.b (dotted path) then the default sort (vhost, name); `sort=` (empty) keeps the
 *   original order; sort_reverse=true reverses. Values compare in Erlang term order, as
 *   RabbitMQ sorts them: numbers < booleans/null < objects/arrays < strings (bytewise), and a
 *   missing value counts as 0.
 * - page=N [page_size=M, default 100, at most 500] [name=text [use_regex=true]] answer
 *   `{filtered_count, item_count, items, page, page_count, page_size, total_count}`; name
 *   matches case-insensitively as a substring, or as a regular expression. Without `page`,
 *   name is ignored (RabbitMQ does the same). Only the endpoints RabbitMQ paginates pass
 *   `paginate: true` (queues, exchanges, connections, channels); elsewhere page is ignored.
 * - columns=a,b.c keeps only those fields (nested paths keep nested objects), applied to
 *   each item (to `items` when paged).
 *
 * Errors as RabbitMQ: 400 bad_request "Pagination parameters are invalid" for non-numbers,
 * 400 invalid_pagination_parameters for out-of-bounds numbers, 400 page_out_of_range.
 */
import { compilePattern, type Pattern } from "../lib/pattern.js";
import { HttpError, sendJSON, type Ctx } from "./context.js";

export interface ListOptions {
  /** RabbitMQ paginates this endpoint */
  paginate?: boolean;
  /** the sort applied after `sort` (RabbitMQ: vhost, name; permissions: vhost, user) */
  defaultSort?: string[];
}

const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 500;
/** a user-supplied regular expression is matched against names only; bound its size */
const MAX_NAME_FILTER = 1024;

type Item = Record<string, unknown>;

export function sendList(ctx: Ctx, items: Item[], opts: ListOptions = {}): void {
  sendJSON(ctx.res, 200, shapeList(ctx.url, items, opts));
}

export function shapeList(url: URL, items: Item[], opts: ListOptions = {}): Item[] | Item {
  const q = url.searchParams;
  const page = opts.paginate ? pagination(q) : null;
  let out = sortItems(items, q.get("sort"), opts.defaultSort ?? ["vhost", "name"], q.get("sort_reverse") === "true");
  const cols = columns(q.get("columns"));
  if (!page) return cols ? out.map((it) => pickColumns(it, cols) as Item) : out;
  const total = out.length;
  if (page.name !== undefined && page.name !== "") out = out.filter(nameMatcher(page.name, page.regex));
  const offset = (page.page - 1) * page.size;
  if (offset > out.length) {
    throw new HttpError(400, "page_out_of_range", `Page out of range, page: ${page.page} page size: ${page.size}, len: ${out.length}`);
  }
  const slice = out.slice(offset, offset + page.size);
  return {
    total_count: total,
    item_count: slice.length,
    filtered_count: out.length,
    page: page.page,
    page_size: page.size,
    page_count: Math.ceil(out.length / page.size),
    items: cols ? slice.map((it) => pickColumns(it, cols)) : slice,
  };
}

interface Page {
  page: number;
  size: number;
  name: string | undefined;
  regex: boolean;
}

function pagination(q: URLSearchParams): Page | null {
  const rawPage = q.get("page");
  if (rawPage === null) return null;
  const rawSize = q.get("page_size");
  const int = (s: string): number => {
    if (!/^-?\d+$/.test(s)) throw new HttpError(400, "bad_request", "Pagination parameters are invalid");
    return Number(s);
  };
  const page = int(rawPage);
  const size = rawSize === null ? DEFAULT_PAGE_SIZE : int(rawSize);
  if (page <= 0 || size <= 0 || size > MAX_PAGE_SIZE) {
    throw new HttpError(400, "invalid_pagination_parameters", `Invalid pagination parameters: page number ${page}, page size ${rawSize === null ? "undefined" : size}`);
  }
  return { page, size, name: q.get("name") ?? undefined, regex: q.get("use_regex") === "true" };
}

function nameMatcher(name: string, regex: boolean): (it: Item) => boolean {
  if (name.length > MAX_NAME_FILTER) throw new HttpError(400, "bad_request", "name filter too long");
  if (regex) {
    // a user's regex runs on the linear-time engine: a backtracking one would let any
    // management user freeze the broker with one listing (lib/pattern.ts)
    let re: Pattern;
    try {
      re = compilePattern(`(?i)${name}`);
    } catch (e) {
      throw new HttpError(400, "bad_request", `invalid regular expression: ${(e as Error).message}`);
    }
    return (it) => typeof it["name"] === "string" && re.test(it["name"]);
  }
  const needle = name.toLowerCase();
  return (it) => typeof it["name"] === "string" && it["name"].toLowerCase().includes(needle);
}

/** A dotted path's value; missing anywhere counts as 0 (rabbit_mgmt_util:get_dotted_value). */
function dotted(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const key of path) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur)) return 0;
    cur = (cur as Item)[key];
    if (cur === undefined) return 0;
  }
  return cur;
}

/** Erlang's term order over JSON values: number < atom (true/false/null) < list (object/array) < binary (string). */
function rank(v: unknown): number {
  if (typeof v === "number") return 0;
  if (typeof v === "boolean" || v === null || v === undefined) return 1;
  if (typeof v === "object") return 2;
  return 3;
}

function compareTerms(a: unknown, b: unknown): number {
  const ra = rank(a),
    rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 0) return (a as number) - (b as number);
  if (ra === 1) return String(a).localeCompare(String(b), "en");
  if (ra === 2) return JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0;
  // binaries compare bytewise
  return Buffer.compare(Buffer.from(String(a)), Buffer.from(String(b)));
}

function sortItems(items: Item[], sort: string | null, defaults: string[], reverse: boolean): Item[] {
  if (sort === "") return reverse ? [...items].reverse() : items;
  const keys = (sort !== null ? [sort, ...defaults] : defaults).map((k) => k.split(".").filter((s) => s !== ""));
  const decorated = items.map((it) => ({ it, k: keys.map((p) => dotted(it, p)) }));
  decorated.sort((x, y) => {
    for (let i = 0; i < keys.length; i++) {
      const c = compareTerms(x.k[i], y.k[i]);
      if (c !== 0) return c;
    }
    return 0;
  });
  const out = decorated.map((d) => d.it);
  return reverse ? out.reverse() : out;
}

/** columns=a,b.c → [["a"], ["b","c"]], or null for all. */
function columns(raw: string | null): string[][] | null {
  if (raw === null) return null;
  return raw
    .split(",")
    .filter((c) => c !== "")
    .map((c) => c.split(".").filter((s) => s !== ""));
}

/** RabbitMQ's extract_column_items: keep wanted keys, descend into objects and arrays. */
function pickColumns(v: unknown, cols: string[][] | "all"): unknown {
  if (cols === "all" || v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x) => pickColumns(x, cols));
  const out: Item = {};
  for (const [k, x] of Object.entries(v as Item)) {
    const wanted = cols.filter((c) => c[0] === k);
    if (wanted.length === 0) continue;
    out[k] = wanted.some((c) => c.length === 1)
      ? x
      : pickColumns(
          x,
          wanted.map((c) => c.slice(1)),
        );
  }
  return out;
}
