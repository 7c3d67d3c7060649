/**
 * `warren ctl` cluster verbs with rabbitmqctl's names, options, messages and exit codes:
 * cluster_status [--formatter json], join_cluster [--ram] <node>, stop_app, start_app,
 * reset, force_reset, change_cluster_node_type disc|ram, forget_cluster_node [--offline]
 * <node>, force_boot, await_online_nodes <count> [--timeout <s>]. They call the node's
 * /api/warren/cluster* routes (src/http/resources/cluster.ts).
 */
import { CtlError, EX_UNAVAILABLE, EX_USAGE, table, type CtlApi, type Output } from "./ctl-http.js";

export interface ClusterArgs {
  positional: string[];
  flags: Set<string>;
  options: Map<string, string>;
}

type Verb = (c: CtlApi, a: ClusterArgs, o: Output) => Promise<void>;

interface Status {
  cluster_name: string;
  disk_nodes: string[];
  ram_nodes: string[];
  running_nodes: string[];
  versions: Record<string, { rabbitmq_name: string; rabbitmq_version: string; erlang_version: string; warren_version?: string }>;
  maintenance_status: Record<string, string>;
  alarms: { node: string; resource: string }[];
  partitions: Record<string, string[]>;
  listeners: Record<string, { interface: string; node: string; port: number; protocol: string; purpose: string }[]>;
  feature_flags: { name: string; state: string }[];
}

export const CLUSTER_VERB_HELP: Record<string, string> = {
  cluster_status: "cluster_status [--formatter json]\n  Disk, RAM and running nodes, versions, alarms, partitions, listeners, feature flags.",
  join_cluster: "join_cluster [--ram] <existing_cluster_member>\n  Needs stop_app first. The node must run with the member's etcd endpoints (docs/cluster.md).",
  stop_app: "stop_app\n  Closes the node's AMQP listener and client connections; the process and its management API keep running.",
  start_app: "start_app\n  Opens the AMQP listener again (rejoins as a disc node after reset).",
  reset: "reset\n  Needs stop_app first. This node leaves the cluster's membership (its data directory is kept).",
  force_reset: "force_reset\n  reset even while the application runs.",
  change_cluster_node_type: "change_cluster_node_type <disc | ram>\n  Needs stop_app first. In warren both keep definitions in etcd; see docs/cluster.md.",
  forget_cluster_node: "forget_cluster_node [--offline] <node>\n  Removes a stopped member and the durable queues homed on it; run it on another member.",
  force_boot: "force_boot\n  Accepted for scripts: warren nodes boot from etcd in any order, there is no last-node-down rule.",
  await_online_nodes: "await_online_nodes <count> [--timeout <seconds>]\n  Waits (default 300 s) until that many nodes are running.",
  quorum_status: "quorum_status [--vhost <vhost>] <queue>\n  rabbitmq-queues': a quorum queue's members, leader, in-sync set and lag.",
  add_member: "add_member [--vhost <vhost>] <queue> <node>\n  rabbitmq-queues': add a replica of a quorum queue on a running disc node.",
  delete_member: "delete_member [--vhost <vhost>] <queue> <node>\n  rabbitmq-queues': remove a quorum queue's replica from a node.",
  grow: "grow <node> <all | even> [--vhost-pattern <re>] [--queue-pattern <re>] [--errors-only]\n  rabbitmq-queues': add a replica on <node> to every matching quorum queue (even: those with an even number of members).",
  shrink: "shrink <node> [--errors-only]\n  rabbitmq-queues': remove every quorum queue's replica from <node>.",
};

async function nodeName(c: CtlApi): Promise<string> {
  return String(((await c.get("/api/overview")) as { node: string }).node);
}

/** POST a verb; a refusal comes back with rabbitmqctl's text and exit status. */
async function run(c: CtlApi, verb: string, body: Record<string, unknown> = {}): Promise<void> {
  try {
    await c.request("POST", `/api/warren/cluster/${verb}`, body);
  } catch (e) {
    if (e instanceof CtlError && e.status === 409) {
      const b = e.body as { reason?: string; exit_code?: number } | undefined;
      throw new CtlError(String(b?.reason ?? e.message).replace(/^Error:\n?/, ""), b?.exit_code ?? 70);
    }
    throw e;
  }
}

function say(o: Output, line: string): void {
  if (!o.quiet && !o.json) o.out(line);
}

function statusText(node: string, s: Status, o: Output): void {
  const lines: string[] = [`Cluster status of node ${node} ...`, "Basics", "", `Cluster name: ${s.cluster_name}`, ""];
  const section = (title: string, items: string[]) => lines.push(title, "", ...(items.length > 0 ? items : ["(none)"]), "");
  section("Disk Nodes", s.disk_nodes);
  if (s.ram_nodes.length > 0) section("RAM Nodes", s.ram_nodes);
  section("Running Nodes", s.running_nodes);
  section(
    "Versions",
    Object.entries(s.versions).map(([n, v]) => `${n}: ${v.rabbitmq_name} ${v.warren_version ?? ""} (RabbitMQ ${v.rabbitmq_version} compatible) on Node.js ${v.erlang_version}`),
  );
  section(
    "Maintenance status",
    Object.entries(s.maintenance_status).map(([n, st]) => `Node: ${n}, status: ${st}`),
  );
  section(
    "Alarms",
    s.alarms.map((a) => `${a.resource} alarm on node ${a.node}`),
  );
  section(
    "Network Partitions",
    Object.entries(s.partitions).map(([n, ps]) => `Node ${n} cannot communicate with ${ps.join(", ")}`),
  );
  section(
    "Listeners",
    Object.values(s.listeners)
      .flat()
      .map((l) => `Node: ${l.node}, interface: ${l.interface}, port: ${l.port}, protocol: ${l.protocol}, purpose: ${l.purpose}`),
  );
  section(
    "Feature flags",
    s.feature_flags.map((f) => `Flag: ${f.name}, state: ${f.state}`),
  );
  if (lines[lines.length - 1] === "") lines.pop();
  for (const l of lines) o.out(l);
}

/** POST a quorum verb (rabbitmq-queues); refusals as run() */
async function quorum(c: CtlApi, verb: string, body: Record<string, unknown>): Promise<unknown> {
  try {
    return await c.request("POST", `/api/warren/quorum/${verb}`, body);
  } catch (e) {
    if (e instanceof CtlError && e.status === 409) {
      const b = e.body as { reason?: string; exit_code?: number } | undefined;
      throw new CtlError(String(b?.reason ?? e.message).replace(/^Error:\n?/, ""), b?.exit_code ?? 70);
    }
    throw e;
  }
}

const vhostOf = (a: ClusterArgs): string => a.options.get("vhost") ?? a.options.get("p") ?? "/";

export const clusterVerbs: Record<string, Verb> = {
  async quorum_status(c, a, o) {
    const q = a.positional[0];
    if (!q) throw new CtlError("usage: warren ctl quorum_status [--vhost <vhost>] <queue>", EX_USAGE);
    say(o, `Status of quorum queue ${q} on node ${await nodeName(c)} ...`);
    let rows: Record<string, unknown>[];
    try {
      rows = (await c.get(`/api/warren/quorum/status/${encodeURIComponent(vhostOf(a))}/${encodeURIComponent(q)}`)) as Record<string, unknown>[];
    } catch (e) {
      if (e instanceof CtlError && e.status === 409) {
        const b = e.body as { reason?: string; exit_code?: number } | undefined;
        throw new CtlError(String(b?.reason ?? e.message).replace(/^Error:\n?/, ""), b?.exit_code ?? 70);
      }
      throw e;
    }
    table(o, ["Node Name", "Raft State", "Log Index", "Commit Index", "Snapshot Index", "Term", "Machine Version", "In Sync", "Lag"], rows);
  },
  async add_member(c, a, o) {
    const [q, node] = a.positional;
    if (!q || !node) throw new CtlError("usage: warren ctl add_member [--vhost <vhost>] <queue> <node>", EX_USAGE);
    say(o, `Adding a replica for queue ${q} on node ${node}...`);
    await quorum(c, "add_member", { vhost: vhostOf(a), queue: q, node });
  },
  async delete_member(c, a, o) {
    const [q, node] = a.positional;
    if (!q || !node) throw new CtlError("usage: warren ctl delete_member [--vhost <vhost>] <queue> <node>", EX_USAGE);
    say(o, `Removing a replica of queue ${q} on node ${node}...`);
    await quorum(c, "delete_member", { vhost: vhostOf(a), queue: q, node });
  },
  async grow(c, a, o) {
    const [node, strategy] = a.positional;
    if (!node || (strategy !== "all" && strategy !== "even"))
      throw new CtlError("usage: warren ctl grow <node> <all | even> [--vhost-pattern <pattern>] [--queue-pattern <pattern>] [--errors-only]", EX_USAGE);
    say(o, `Growing ${strategy} quorum queues on ${node}...`);
    const rows = (await quorum(c, "grow", { node, strategy, vhost_pattern: a.options.get("vhost-pattern") ?? ".*", queue_pattern: a.options.get("queue-pattern") ?? ".*" })) as Record<
      string,
      unknown
    >[];
    table(o, ["vhost", "name", "size", "result"], a.flags.has("errors-only") ? rows.filter((r) => r["result"] !== "ok") : rows);
  },
  async shrink(c, a, o) {
    const node = a.positional[0];
    if (!node) throw new CtlError("usage: warren ctl shrink <node> [--errors-only]", EX_USAGE);
    say(o, `Shrinking all quorum queues on ${node}...`);
    const rows = (await quorum(c, "shrink", { node })) as Record<string, unknown>[];
    table(o, ["vhost", "name", "size", "result"], a.flags.has("errors-only") ? rows.filter((r) => r["result"] !== "ok") : rows);
  },
  async cluster_status(c, _a, o) {
    const s = (await c.get("/api/warren/cluster-status")) as Status;
    if (o.json) return o.out(JSON.stringify(s));
    statusText(await nodeName(c), s, o);
  },
  async join_cluster(c, a, o) {
    const via = a.positional[0];
    if (!via) throw new CtlError("usage: warren ctl join_cluster [--ram] <existing_cluster_member>", EX_USAGE);
    const n = await nodeName(c);
    say(o, `Clustering node ${n} with ${via}`);
    await run(c, "join_cluster", { node: via, type: a.flags.has("ram") ? "ram" : "disc" });
  },
  async stop_app(c, _a, o) {
    say(o, `Stopping rabbit application on node ${await nodeName(c)} ...`);
    await run(c, "stop_app");
  },
  async start_app(c, _a, o) {
    say(o, `Starting node ${await nodeName(c)} ...`);
    await run(c, "start_app");
  },
  async reset(c, _a, o) {
    say(o, `Resetting node ${await nodeName(c)} ...`);
    await run(c, "reset");
  },
  async force_reset(c, _a, o) {
    say(o, `Forcefully resetting node ${await nodeName(c)} ...`);
    await run(c, "force_reset");
  },
  async change_cluster_node_type(c, a, o) {
    const t = a.positional[0];
    if (t !== "disc" && t !== "ram" && t !== "disk") throw new CtlError("usage: warren ctl change_cluster_node_type <disc | ram>", EX_USAGE);
    const type = t === "ram" ? "ram" : "disc";
    say(o, `Turning ${await nodeName(c)} into a ${type} node`);
    await run(c, "change_cluster_node_type", { type });
  },
  async forget_cluster_node(c, a, o) {
    const node = a.positional[0];
    if (!node) throw new CtlError("usage: warren ctl forget_cluster_node [--offline] <existing_cluster_member_node>", EX_USAGE);
    say(o, `Removing node ${node} from the cluster`);
    await run(c, "forget_cluster_node", { node });
  },
  async force_boot(c, _a, o) {
    // RabbitMQ's force_boot lets a node start without its peers; warren nodes always can
    say(o, `Ensuring that node ${await nodeName(c)} boots without waiting for peers: warren reads the cluster's state from etcd at every boot, nothing to do.`);
  },
  async await_online_nodes(c, a, o) {
    const count = Number(a.positional[0]);
    if (!Number.isInteger(count) || count < 1) throw new CtlError("usage: warren ctl await_online_nodes <count> [--timeout <seconds>]", EX_USAGE);
    const timeout = Number(a.options.get("timeout") ?? a.options.get("t") ?? 300);
    say(o, `Will wait for at least ${count} nodes to join the cluster of ${await nodeName(c)}. Timeout: ${timeout} seconds.`);
    const until = Date.now() + timeout * 1000;
    for (;;) {
      const s = (await c.get("/api/warren/cluster-status")) as Status;
      if (s.running_nodes.length >= count) return;
      if (Date.now() > until) throw new CtlError(`timed out: ${s.running_nodes.length} of ${count} nodes online after ${timeout} seconds`, EX_UNAVAILABLE);
      await new Promise((r) => setTimeout(r, 250));
    }
  },
};
