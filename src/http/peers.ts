/**
 * The cluster-wide views of the management API: RabbitMQ's management database aggregates
 * every node's connections, channels, consumers, queue figures and node figures, so that
 * any node answers for the whole cluster. warren's nodes keep those figures to themselves;
 * a node answering /api/connections, /api/channels, /api/consumers, /api/nodes or
 * /api/queues asks each other running member's management listener (the address it
 * published in etcd with its lease) for its own part, as the internal user warren-cluster,
 * with the header `x-warren-local: 1` (answer for this node only, do not ask further), in
 * parallel, each request bounded by PEER_TIMEOUT_MS. A member that does not answer in time
 * (or runs with the management listener off) is left out of the connection listings, and
 * its queues and node entry fall back to what this node knows (docs/cluster.md).
 */
import type { Ctx } from "./context.js";

export const LOCAL_HEADER = "x-warren-local";
/** how long a node waits for another node's part of a cluster-wide answer */
export const PEER_TIMEOUT_MS = 1000;

/** Query options that shape a listing: applied once, by the node that answers the client. */
const LIST_OPTIONS = new Set(["sort", "sort_reverse", "columns", "page", "page_size", "name", "use_regex"]);

/** Should this request be answered for this node only (another node is asking for its part)? */
export function localOnly(ctx: Ctx): boolean {
  return ctx.broker.cluster === null || ctx.req.headers[LOCAL_HEADER] === "1";
}

export interface PeerReply {
  node: string;
  status: number;
  body: unknown;
}

function baseUrl(host: string, port: number): string {
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** The request's query minus the listing options (rates ranges, internal=true stay). */
export function forwardQuery(ctx: Ctx): string {
  const q = new URLSearchParams();
  for (const [k, v] of ctx.url.searchParams) if (!LIST_OPTIONS.has(k)) q.append(k, v);
  const s = q.toString();
  return s === "" ? "" : "?" + s;
}

async function ask(ctx: Ctx, node: string, host: string, port: number, method: string, path: string, headers: Record<string, string>): Promise<PeerReply | null> {
  const c = ctx.broker.cluster!;
  const { user, pass } = c.linkCredentials();
  try {
    const res = await fetch(baseUrl(host, port) + path, {
      method,
      headers: { authorization: "Basic " + Buffer.from(`${user}:${pass}`).toString("base64"), [LOCAL_HEADER]: "1", ...headers },
      signal: AbortSignal.timeout(PEER_TIMEOUT_MS),
    });
    const text = await res.text();
    let body: unknown = null;
    if (text !== "") {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    return { node, status: res.status, body };
  } catch {
    return null;
  }
}

/** Ask every other running member (or only `node`) in parallel; the ones that did not answer in time are left out. */
export async function askPeers(ctx: Ctx, path: string, opts: { method?: string; headers?: Record<string, string>; node?: string } = {}): Promise<PeerReply[]> {
  const c = ctx.broker.cluster;
  if (!c || localOnly(ctx)) return [];
  const peers = c.peerEndpoints().filter((p) => opts.node === undefined || p.node === opts.node);
  const replies = await Promise.all(peers.map((p) => ask(ctx, p.node, p.host, p.port, opts.method ?? "GET", path, opts.headers ?? {})));
  return replies.filter((r): r is PeerReply => r !== null);
}

/** The other members' lists for `path` (each member's own items), concatenated. */
export async function peerLists(ctx: Ctx, path: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const r of await askPeers(ctx, path + forwardQuery(ctx))) {
    if (r.status === 200 && Array.isArray(r.body)) for (const it of r.body) if (it !== null && typeof it === "object") out.push(it as Record<string, unknown>);
  }
  return out;
}

/** The first other member that answers `path` with 200 (an object only one node has: a connection, a channel). */
export async function peerObject(ctx: Ctx, path: string): Promise<PeerReply | null> {
  for (const r of await askPeers(ctx, path + forwardQuery(ctx))) if (r.status === 200 && r.body !== null && typeof r.body === "object") return r;
  return null;
}
