/**
 * `warren ctl VERB …`: rabbitmqctl's verbs, arguments and output shape for the
 * common operations, implemented as calls to the management HTTP API (never
 * importing the broker), so it administers a running warren — or a RabbitMQ.
 *
 * Server address (ctl-server.ts): --mgmt-url http://user:pass@host:port, else
 * WARREN_MGMT_URL, else the local server's local.json, else
 * http://guest:guest@localhost:15672; a server other than the default is named on stderr. Global options as rabbitmqctl's:
 * -p/--vhost, -q/--quiet, --no-table-headers, --formatter json.
 * Exit codes: 0 ok, 64 usage, 67 no such user, 69 server unreachable,
 * 70 refused by the server, 77 not authorised (see ctl-http.ts).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { UsageError, parseArgv, type FlagSpec, type Parsed } from "../lib/argv.js";
import { CtlError, EX_DATAERR, EX_NOUSER, EX_SOFTWARE, EX_UNAVAILABLE, EX_USAGE, CtlApi, enc, info, table, type Output } from "./ctl-http.js";
import { findServer } from "./ctl-server.js";
import { CLUSTER_VERB_HELP, clusterVerbs } from "./ctl-cluster.js";

interface Args {
  vhost: string;
  positional: string[];
  flags: Set<string>;
  options: Map<string, string>;
}

type Verb = (c: CtlApi, a: Args, o: Output) => Promise<void>;

const DEFAULT_URL = "http://guest:guest@localhost:15672";

/** `warren ctl help VERB`: each verb's usage line and what it does. */
const VERB_HELP: Record<string, string> = {
  status: "status\n  Node status: versions, alarms, memory, disk, totals, listeners.",
  ping: "ping\n  Checks that the server answers. Exit 0, or 69 when it cannot be reached.",
  await_startup: "await_startup [--timeout <seconds>]\n  Waits (default 300 s) until the server answers.",
  node_health_check: "node_health_check\n  Passes unless a resource alarm is in effect (exit 70 then).",
  environment: "environment\n  The server's effective settings.",
  report: "report\n  status followed by every list_* for every vhost.",
  list_queues: "list_queues [-p <vhost>] [<column> ...]\n  Default columns: name messages.",
  list_exchanges: "list_exchanges [-p <vhost>] [<column> ...]\n  Default columns: name type.",
  list_bindings: "list_bindings [-p <vhost>] [<column> ...]",
  list_connections: "list_connections [<column> ...]\n  Default columns: user peer_host peer_port state.",
  list_channels: "list_channels [<column> ...]",
  list_consumers: "list_consumers [-p <vhost>] [<column> ...]",
  list_users: "list_users",
  list_vhosts: "list_vhosts [<column> ...]",
  list_permissions: "list_permissions [-p <vhost>]",
  list_user_permissions: "list_user_permissions <username>",
  list_topic_permissions: "list_topic_permissions [-p <vhost>]",
  list_policies: "list_policies [-p <vhost>]",
  list_operator_policies: "list_operator_policies [-p <vhost>]",
  list_parameters: "list_parameters [-p <vhost>]",
  list_vhost_limits: "list_vhost_limits [-p <vhost>]",
  add_user: "add_user <username> <password>",
  delete_user: "delete_user <username>\n  Exit 67 when there is no such user.",
  change_password: "change_password <username> <new_password>",
  authenticate_user: "authenticate_user <username> <password>\n  Exit 0 when the credentials are accepted, 65 when refused.",
  set_user_tags: "set_user_tags <username> [<tag> ...]",
  set_user_limits: 'set_user_limits <username> <definition>\n  e.g. \'{"max-connections": 10, "max-channels": 100}\'.',
  clear_user_limits: "clear_user_limits <username> <limit | all>",
  add_vhost: "add_vhost <vhost> [--description <text>] [--tags <t1,t2>]",
  delete_vhost: "delete_vhost <vhost>",
  set_vhost_limits: 'set_vhost_limits [-p <vhost>] <definition>\n  e.g. \'{"max-connections": 64, "max-queues": 256}\'.',
  clear_vhost_limits: "clear_vhost_limits [-p <vhost>]",
  set_permissions: "set_permissions [-p <vhost>] <username> <conf> <write> <read>",
  clear_permissions: "clear_permissions [-p <vhost>] <username>",
  set_topic_permissions: "set_topic_permissions [-p <vhost>] <username> <exchange> <write> <read>",
  clear_topic_permissions: "clear_topic_permissions [-p <vhost>] <username>",
  set_policy: 'set_policy [-p <vhost>] [--priority <n>] [--apply-to all|queues|exchanges] <name> <pattern> <definition>\n  e.g. set_policy TTL "^ttl\\." \'{"message-ttl": 60000}\' --apply-to queues',
  clear_policy: "clear_policy [-p <vhost>] <name>\n  Exit 69 when there is no such policy.",
  set_operator_policy:
    "set_operator_policy [-p <vhost>] [--priority <n>] [--apply-to ...] <name> <pattern> <definition>\n  Caps the numeric settings (max-length, message-ttl, expires, ...) of matching queues.",
  clear_operator_policy: "clear_operator_policy [-p <vhost>] <name>",
  set_parameter: "set_parameter [-p <vhost>] <component_name> <name> <value>",
  clear_parameter: "clear_parameter [-p <vhost>] <component_name> <name>",
  purge_queue: "purge_queue [-p <vhost>] <queue>",
  delete_queue: "delete_queue [-p <vhost>] <queue> [--if-empty|-e] [--if-unused|-u]",
  close_connection: "close_connection <connection name> <explanation>",
  export_definitions: "export_definitions <file | ->",
  import_definitions: "import_definitions <file>",
  ...CLUSTER_VERB_HELP,
};

function helpFor(verb: string, io: { out(s: string): void; err(s: string): void }): number {
  const h = VERB_HELP[verb];
  if (!h) {
    io.err(`Error:\nunknown verb '${verb}'. Run 'warren ctl help' for the list.`);
    return EX_USAGE;
  }
  io.out(`usage: warren ctl ${h}`);
  return 0;
}

// ---- list verbs ------------------------------------------------------------

/** Read a rabbitmqctl column from an API object: aliases first, then dotted paths. */
function column(row: Record<string, unknown>, col: string, aliases: Record<string, (r: Record<string, unknown>) => unknown>): unknown {
  const a = aliases[col];
  if (a) return a(row);
  let cur: unknown = row;
  for (const p of col.split(".")) cur = cur && typeof cur === "object" ? (cur as Record<string, unknown>)[p] : undefined;
  return cur;
}

async function listing(
  c: CtlApi,
  a: Args,
  o: Output,
  opts: { path: string; defaults: string[]; heading: string; aliases?: Record<string, (r: Record<string, unknown>) => unknown>; filter?: (r: Record<string, unknown>) => boolean },
): Promise<void> {
  const cols = a.positional.length > 0 ? a.positional : opts.defaults;
  let rows = (await c.get(opts.path)) as Record<string, unknown>[];
  if (opts.filter) rows = rows.filter(opts.filter);
  if (opts.heading) info(o, opts.heading);
  table(
    o,
    cols,
    rows.map((r) => Object.fromEntries(cols.map((col) => [col, column(r, col, opts.aliases ?? {})]))),
  );
}

const nested =
  (k: string, f: string) =>
  (r: Record<string, unknown>): unknown =>
    ((r[k] ?? {}) as Record<string, unknown>)[f];
const vpath = (a: Args): string => enc(a.vhost);

const verbs: Record<string, Verb> = {
  ...clusterVerbs,
  async list_queues(c, a, o) {
    info(o, "Timeout: 60.0 seconds ...");
    await listing(c, a, o, { path: `/api/queues/${vpath(a)}`, defaults: ["name", "messages"], heading: `Listing queues for vhost ${a.vhost} ...` });
  },
  async list_exchanges(c, a, o) {
    await listing(c, a, o, { path: `/api/exchanges/${vpath(a)}`, defaults: ["name", "type"], heading: `Listing exchanges for vhost ${a.vhost} ...` });
  },
  async list_bindings(c, a, o) {
    await listing(c, a, o, {
      path: `/api/bindings/${vpath(a)}`,
      defaults: ["source_name", "source_kind", "destination_name", "destination_kind", "routing_key", "arguments"],
      heading: `Listing bindings for vhost ${a.vhost}...`,
      aliases: { source_name: (r) => r["source"], source_kind: () => "exchange", destination_name: (r) => r["destination"], destination_kind: (r) => r["destination_type"] },
    });
  },
  async list_connections(c, a, o) {
    await listing(c, a, o, { path: "/api/connections", defaults: ["user", "peer_host", "peer_port", "state"], heading: "Listing connections ...", aliases: { pid: (r) => r["name"] } });
  },
  async list_channels(c, a, o) {
    await listing(c, a, o, {
      path: "/api/channels",
      defaults: ["pid", "user", "consumer_count", "messages_unacknowledged"],
      heading: "Listing channels ...",
      aliases: { pid: (r) => r["name"], connection: nested("connection_details", "name") },
    });
  },
  async list_consumers(c, a, o) {
    await listing(c, a, o, {
      path: `/api/consumers/${vpath(a)}`,
      defaults: ["queue_name", "channel_pid", "consumer_tag", "ack_required", "prefetch_count", "active", "arguments"],
      heading: `Listing consumers in vhost ${a.vhost} ...`,
      aliases: { queue_name: nested("queue", "name"), channel_pid: nested("channel_details", "name") },
    });
  },
  async list_users(c, a, o) {
    await listing(c, a, o, { path: "/api/users", defaults: ["user", "tags"], heading: "Listing users ...", aliases: { user: (r) => r["name"] } });
  },
  async list_vhosts(c, a, o) {
    await listing(c, a, o, { path: "/api/vhosts", defaults: ["name"], heading: "Listing vhosts ..." });
  },
  async list_permissions(c, a, o) {
    await listing(c, a, o, { path: `/api/vhosts/${vpath(a)}/permissions`, defaults: ["user", "configure", "write", "read"], heading: `Listing permissions for vhost "${a.vhost}" ...` });
  },
  async list_user_permissions(c, a, o) {
    const user = need(a, 1, "list_user_permissions <username>")[0]!;
    a.positional = [];
    await listing(c, a, o, { path: `/api/users/${enc(user)}/permissions`, defaults: ["vhost", "configure", "write", "read"], heading: `Listing permissions for user "${user}" ...` });
  },

  // ---- users ----------------------------------------------------------------

  async add_user(c, a, o) {
    const [name, pass] = need(a, 2, "add_user <username> <password>");
    info(o, `Adding user "${name}" ...`);
    if (await exists(c, `/api/users/${enc(name!)}`)) throw new CtlError(`User "${name}" already exists`, EX_SOFTWARE);
    await c.request("PUT", `/api/users/${enc(name!)}`, { password: pass, tags: "" });
    info(o, `Done. Don't forget to grant the user permissions to some virtual hosts! See 'warren ctl help set_permissions' to learn more.`);
  },
  async delete_user(c, a, o) {
    const [name] = need(a, 1, "delete_user <username>");
    info(o, `Deleting user "${name}" ...`);
    await userOp(name!, () => c.request("DELETE", `/api/users/${enc(name!)}`));
  },
  async change_password(c, a, o) {
    const [name, pass] = need(a, 2, "change_password <username> <new_password>");
    info(o, `Changing password for user "${name}" ...`);
    const u = (await userOp(name!, () => c.get(`/api/users/${enc(name!)}`))) as { tags: string[] };
    await c.request("PUT", `/api/users/${enc(name!)}`, { password: pass, tags: u.tags.join(",") });
  },
  async set_user_tags(c, a, o) {
    if (a.positional.length < 1) usage("set_user_tags <username> <tag> [...]");
    const [name, ...tags] = a.positional as [string, ...string[]];
    info(o, `Setting tags for user "${name}" to [${tags.join(", ")}] ...`);
    const u = (await userOp(name, () => c.get(`/api/users/${enc(name)}`))) as { password_hash: string; hashing_algorithm: string };
    await c.request("PUT", `/api/users/${enc(name)}`, { password_hash: u.password_hash, hashing_algorithm: u.hashing_algorithm, tags: tags.join(",") });
  },

  // ---- vhosts and permissions ------------------------------------------------

  async add_vhost(c, a, o) {
    const [name] = need(a, 1, "add_vhost <vhost> [--description <text>] [--tags <t1,t2>]");
    info(o, `Adding vhost "${name}" ...`);
    await c.request("PUT", `/api/vhosts/${enc(name!)}`, { description: a.options.get("description") ?? "", tags: a.options.get("tags") ?? "" });
  },
  async delete_vhost(c, a, o) {
    const [name] = need(a, 1, "delete_vhost <vhost>");
    info(o, `Deleting vhost "${name}" ...`);
    try {
      await c.request("DELETE", `/api/vhosts/${enc(name!)}`);
    } catch (e) {
      if (e instanceof CtlError && e.status === 404) throw new CtlError(`Virtual host '${name}' does not exist`, EX_SOFTWARE);
      throw e;
    }
  },
  async set_permissions(c, a, o) {
    const [user, conf, write, read] = need(a, 4, "set_permissions [-p <vhost>] <username> <conf> <write> <read>");
    info(o, `Setting permissions for user "${user}" in vhost "${a.vhost}" ...`);
    try {
      await c.request("PUT", `/api/permissions/${vpath(a)}/${enc(user!)}`, { configure: conf, write, read });
    } catch (e) {
      if (e instanceof CtlError && e.status === 400 && e.message === "vhost_or_user_not_found") {
        if (!(await exists(c, `/api/users/${enc(user!)}`))) throw new CtlError(`User "${user}" does not exist`, EX_NOUSER);
        throw new CtlError(`Virtual host '${a.vhost}' does not exist`, EX_SOFTWARE);
      }
      throw e;
    }
  },
  async clear_permissions(c, a, o) {
    const [user] = need(a, 1, "clear_permissions [-p <vhost>] <username>");
    info(o, `Clearing permissions for user "${user}" in vhost "${a.vhost}" ...`);
    try {
      await c.request("DELETE", `/api/permissions/${vpath(a)}/${enc(user!)}`);
    } catch (e) {
      // rabbitmqctl succeeds when there was nothing to clear
      if (!(e instanceof CtlError && e.status === 404)) throw e;
    }
  },

  // ---- queues and connections ------------------------------------------------

  async purge_queue(c, a, o) {
    const [q] = need(a, 1, "purge_queue [-p <vhost>] <queue>");
    info(o, `Purging queue '${q}' in vhost '${a.vhost}' ...`);
    await queueOp(() => c.request("DELETE", `/api/queues/${vpath(a)}/${enc(q!)}/contents`));
  },
  async delete_queue(c, a, o) {
    const [q] = need(a, 1, "delete_queue [-p <vhost>] <queue> [--if-empty|-e] [--if-unused|-u]");
    info(o, `Deleting queue '${q}' on vhost '${a.vhost}' ...`);
    const qs = new URLSearchParams();
    if (a.flags.has("if-empty") || a.flags.has("e")) qs.set("if-empty", "true");
    if (a.flags.has("if-unused") || a.flags.has("u")) qs.set("if-unused", "true");
    const suffix = qs.size > 0 ? `?${qs}` : "";
    await queueOp(() => c.request("DELETE", `/api/queues/${vpath(a)}/${enc(q!)}${suffix}`));
  },
  async close_connection(c, a, o) {
    const [name, reason] = need(a, 2, "close_connection <connection name> <explanation>");
    info(o, `Closing connection ${name}, reason: ${reason}...`);
    try {
      await c.request("DELETE", `/api/connections/${enc(name!)}`, undefined, { "x-reason": reason! });
    } catch (e) {
      if (e instanceof CtlError && e.status === 404) throw new CtlError(`Connection '${name}' not found`, EX_SOFTWARE);
      throw e;
    }
  },

  // ---- definitions -------------------------------------------------------------

  async export_definitions(c, a, o) {
    const [file] = need(a, 1, "export_definitions <file | ->");
    const defs = await c.get("/api/definitions");
    const text = JSON.stringify(defs, null, 2) + "\n";
    if (file === "-") {
      o.out(text.trimEnd());
      return;
    }
    info(o, `Exporting definitions in JSON to a file at "${file}" ...`);
    try {
      writeFileSync(file!, text);
    } catch (e) {
      throw new CtlError(`No permissions to write to file ${file} or its parent directory (${(e as Error).message})`, EX_SOFTWARE);
    }
  },
  async import_definitions(c, a, o) {
    const [file] = need(a, 1, "import_definitions <file>");
    info(o, `Importing definitions in JSON from a file at "${file}" ...`);
    let text: string;
    try {
      text = readFileSync(file!, "utf8");
      JSON.parse(text);
    } catch (e) {
      throw new CtlError(`could not read definitions from ${file}: ${(e as Error).message}`, EX_SOFTWARE);
    }
    await c.request("POST", "/api/definitions", text);
    info(o, `Successfully started definition import. This process is asynchronous and can take some time.`);
  },

  // ---- node ---------------------------------------------------------------------

  async status(c, _a, o) {
    const ov = (await c.get("/api/overview")) as Record<string, unknown>;
    const nodes = (await c.get("/api/nodes")) as Record<string, unknown>[];
    const n = nodes[0] ?? {};
    const totals = (ov["object_totals"] ?? {}) as Record<string, number>;
    const alarms: string[] = [];
    if (n["mem_alarm"]) alarms.push("memory");
    if (n["disk_free_alarm"]) alarms.push("disk");
    info(o, `Status of node ${String(ov["node"])} ...`);
    const lines = [
      "Runtime",
      "",
      `OS PID: ${String(n["os_pid"] ?? "")}`,
      `Uptime (seconds): ${Math.floor(Number(n["uptime"] ?? 0) / 1000)}`,
      `Is under maintenance?: false`,
      `${String(ov["product_name"])} version: ${String(ov["product_version"])}`,
      `RabbitMQ API version: ${String(ov["rabbitmq_version"])}`,
      `Runtime version: ${String(ov["erlang_full_version"] ?? ov["erlang_version"])}`,
      "",
      "Alarms",
      "",
      alarms.length ? alarms.map((x) => `${x} alarm is in effect`).join("\n") : "(none)",
      "",
      "Memory",
      "",
      `Total memory used: ${(Number(n["mem_used"] ?? 0) / 1e9).toFixed(4)} gb`,
      "",
      "Free Disk Space",
      "",
      `Free disk space: ${(Number(n["disk_free"] ?? 0) / 1e9).toFixed(4)} gb`,
      "",
      "Totals",
      "",
      `Connection count: ${totals["connections"] ?? 0}`,
      `Queue count: ${totals["queues"] ?? 0}`,
      `Virtual host count: ${((await c.get("/api/vhosts")) as unknown[]).length}`,
      "",
      "Listeners",
      "",
      ...((ov["listeners"] ?? []) as Record<string, unknown>[]).map((l) => `Interface: [${String(l["ip_address"])}], port: ${String(l["port"])}, protocol: ${String(l["protocol"])}`),
    ];
    if (o.json) o.out(JSON.stringify({ overview: ov, node: n }, null, 2));
    else o.out(lines.join("\n"));
  },

  // ---- health ---------------------------------------------------------------------

  async ping(c, _a, o) {
    info(o, `Will ping ${c.target}. This only checks if the server is running and its management API answers. Timeout: 60000 ms.`);
    await c.get("/api/overview");
    o.out("Ping succeeded");
  },
  async await_startup(c, a) {
    // rabbitmqctl waits up to --timeout seconds (default 300) for the node to boot
    const timeout = Number(a.options.get("timeout") ?? a.options.get("t") ?? 300) * 1000;
    const deadline = Date.now() + timeout;
    for (;;) {
      try {
        await c.get("/api/overview");
        return;
      } catch (e) {
        if (!(e instanceof CtlError) || e.exitCode !== EX_UNAVAILABLE || Date.now() >= deadline) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  },
  async node_health_check(c, _a, o) {
    info(o, "Timeout: 70 seconds ...");
    const ov = (await c.get("/api/overview")) as Record<string, unknown>;
    info(o, `Checking health of node ${String(ov["node"])} ...`);
    const alarms = await c.requestAllowing("GET", "/api/health/checks/alarms", [503]);
    if (alarms.status === 503)
      throw new CtlError(`Error: health check failed. Message: resource alarm(s) in effect: ${JSON.stringify((alarms.body as { alarms?: unknown }).alarms ?? [])}`, EX_SOFTWARE);
    o.out("Health check passed");
  },
  async authenticate_user(c, a, o) {
    const [name, pass] = need(a, 2, "authenticate_user <username> <password>");
    info(o, `Authenticating user "${name}" ...`);
    const r = await c.as(name!, pass!).requestAllowing("GET", "/api/whoami", [401]);
    if (r.status === 401) throw new CtlError(`Error: failed to authenticate user "${name}"\nuser '${name}' - invalid credentials`, EX_DATAERR);
    o.out("Success");
  },

  // ---- policies, parameters, limits ---------------------------------------------

  async set_policy(c, a, o) {
    const [name, pattern, definition] = need(a, 3, "set_policy [-p <vhost>] [--priority <priority>] [--apply-to <apply-to>] <name> <pattern> <definition>");
    const priority = a.options.get("priority") ?? "0";
    info(o, `Setting policy "${name}" for pattern "${pattern}" to "${definition}" with priority "${priority}" for vhost "${a.vhost}" ...`);
    await c.request("PUT", `/api/policies/${vpath(a)}/${enc(name!)}`, { pattern, definition: json(definition!), priority: Number(priority), "apply-to": a.options.get("apply-to") ?? "all" });
  },
  async clear_policy(c, a, o) {
    const [name] = need(a, 1, "clear_policy [-p <vhost>] <name>");
    info(o, `Clearing policy "${name}" on vhost "${a.vhost}" ...`);
    await paramOp(() => c.request("DELETE", `/api/policies/${vpath(a)}/${enc(name!)}`));
  },
  async list_policies(c, a, o) {
    info(o, `Listing policies for vhost "${a.vhost}" ...`);
    await listing(c, a, o, {
      path: `/api/policies/${vpath(a)}`,
      defaults: ["vhost", "name", "pattern", "apply-to", "definition", "priority"],
      heading: "",
      aliases: { definition: (r) => JSON.stringify(r["definition"]) },
    });
  },
  async set_operator_policy(c, a, o) {
    const [name, pattern, definition] = need(a, 3, "set_operator_policy [-p <vhost>] [--priority <priority>] [--apply-to <apply-to>] <name> <pattern> <definition>");
    const priority = a.options.get("priority") ?? "0";
    info(o, `Setting operator policy override "${name}" for pattern "${pattern}" to "${definition}" with priority "${priority}" for vhost "${a.vhost}" ...`);
    await c.request("PUT", `/api/operator-policies/${vpath(a)}/${enc(name!)}`, { pattern, definition: json(definition!), priority: Number(priority), "apply-to": a.options.get("apply-to") ?? "all" });
  },
  async clear_operator_policy(c, a, o) {
    const [name] = need(a, 1, "clear_operator_policy [-p <vhost>] <name>");
    info(o, `Clearing operator policy "${name}" on vhost "${a.vhost}" ...`);
    await paramOp(() => c.request("DELETE", `/api/operator-policies/${vpath(a)}/${enc(name!)}`));
  },
  async list_operator_policies(c, a, o) {
    info(o, `Listing operator policy overrides for vhost "${a.vhost}" ...`);
    await listing(c, a, o, {
      path: `/api/operator-policies/${vpath(a)}`,
      defaults: ["vhost", "name", "pattern", "apply-to", "definition", "priority"],
      heading: "",
      aliases: { definition: (r) => JSON.stringify(r["definition"]) },
    });
  },
  async set_parameter(c, a, o) {
    const [component, name, value] = need(a, 3, "set_parameter [-p <vhost>] <component_name> <name> <value>");
    info(o, `Setting runtime parameter "${name}" for component "${component}" to "${value}" in vhost "${a.vhost}" ...`);
    await c.request("PUT", `/api/parameters/${enc(component!)}/${vpath(a)}/${enc(name!)}`, { value: json(value!) });
  },
  async clear_parameter(c, a, o) {
    const [component, name] = need(a, 2, "clear_parameter [-p <vhost>] <component_name> <name>");
    info(o, `Clearing runtime parameter "${name}" for component "${component}" on vhost "${a.vhost}" ...`);
    await paramOp(() => c.request("DELETE", `/api/parameters/${enc(component!)}/${vpath(a)}/${enc(name!)}`));
  },
  async list_parameters(c, a, o) {
    info(o, `Listing runtime parameters for vhost "${a.vhost}" ...`);
    const rows = ((await c.get("/api/parameters")) as Record<string, unknown>[]).filter((r) => r["vhost"] === a.vhost);
    table(
      o,
      ["component", "name", "value"],
      rows.map((r) => ({ component: r["component"], name: r["name"], value: JSON.stringify(r["value"]) })),
    );
  },
  async set_vhost_limits(c, a, o) {
    const [definition] = need(a, 1, "set_vhost_limits [-p <vhost>] <definition>");
    info(o, `Setting vhost limits to "${definition}" for vhost "${a.vhost}" ...`);
    const limits = json(definition!);
    if (limits === null || typeof limits !== "object" || Array.isArray(limits)) throw new CtlError("limits must be a JSON object, e.g. '{\"max-connections\": 64}'", EX_USAGE);
    for (const [k, v] of Object.entries(limits)) {
      await c.request("PUT", `/api/vhost-limits/${vpath(a)}/${enc(k)}`, { value: v });
    }
  },
  async clear_vhost_limits(c, a, o) {
    info(o, `Clearing vhost "${a.vhost}" limits ...`);
    const rows = (await c.get(`/api/vhost-limits/${vpath(a)}`)) as { value: Record<string, unknown> }[];
    if (rows.length === 0) throw new CtlError("Parameter does not exist", EX_UNAVAILABLE);
    for (const k of Object.keys(rows[0]!.value)) await c.request("DELETE", `/api/vhost-limits/${vpath(a)}/${enc(k)}`);
  },
  async list_vhost_limits(c, a, o) {
    info(o, `Listing limits for vhost "${a.vhost}" ...`);
    const rows = (await c.get(`/api/vhost-limits/${vpath(a)}`)) as { value: Record<string, unknown> }[];
    if (rows[0]) o.out(JSON.stringify(rows[0].value));
  },
  async set_user_limits(c, a, o) {
    const [user, definition] = need(a, 2, "set_user_limits <username> <definition>");
    info(o, `Setting user limits to "${definition}" for user "${user}" ...`);
    const limits = json(definition!);
    if (limits === null || typeof limits !== "object" || Array.isArray(limits)) throw new CtlError("limits must be a JSON object, e.g. '{\"max-connections\": 64}'", EX_USAGE);
    for (const [k, v] of Object.entries(limits)) await c.request("PUT", `/api/user-limits/${enc(user!)}/${enc(k)}`, { value: v });
  },
  async clear_user_limits(c, a, o) {
    const [user, which] = need(a, 2, "clear_user_limits <username> <limit | all>");
    info(o, `Clearing "${which}" limit for user "${user}" ...`);
    const names = which === "all" ? ["max-connections", "max-channels"] : [which!];
    for (const n of names) await userOp(user!, () => c.request("DELETE", `/api/user-limits/${enc(user!)}/${enc(n)}`));
  },
  async set_topic_permissions(c, a, o) {
    const [user, exchange, write, read] = need(a, 4, "set_topic_permissions [-p <vhost>] <username> <exchange> <write> <read>");
    info(o, `Setting topic permissions on "${exchange}" for user "${user}" in vhost "${a.vhost}" ...`);
    await c.request("PUT", `/api/topic-permissions/${vpath(a)}/${enc(user!)}`, { exchange, write, read });
  },
  async clear_topic_permissions(c, a, o) {
    const [user] = need(a, 1, "clear_topic_permissions [-p <vhost>] <username> [<exchange>]");
    info(o, `Clearing topic permissions for user "${user}" in vhost "${a.vhost}" ...`);
    try {
      await c.request("DELETE", `/api/topic-permissions/${vpath(a)}/${enc(user!)}`);
    } catch (e) {
      if (!(e instanceof CtlError && e.status === 404)) throw e;
    }
  },
  async list_topic_permissions(c, a, o) {
    info(o, `Listing topic permissions for vhost "${a.vhost}" ...`);
    await listing(c, a, o, { path: `/api/vhosts/${vpath(a)}/topic-permissions`, defaults: ["user", "exchange", "write", "read"], heading: "" });
  },

  // ---- node reports -------------------------------------------------------------

  async environment(c, _a, o) {
    const ov = (await c.get("/api/overview")) as Record<string, unknown>;
    const n = ((await c.get("/api/nodes")) as Record<string, unknown>[])[0] ?? {};
    info(o, `Application environment of node ${String(ov["node"])} ...`);
    const env = {
      product: `${String(ov["product_name"])} ${String(ov["product_version"])}`,
      rabbitmq_version: ov["rabbitmq_version"],
      runtime: ov["erlang_full_version"] ?? ov["erlang_version"],
      listeners: ov["listeners"],
      vm_memory_high_watermark_bytes: n["mem_limit"],
      disk_free_limit_bytes: n["disk_free_limit"],
      file_descriptors_limit: n["fd_total"],
      rates_mode: ov["rates_mode"],
    };
    if (o.json) return o.out(JSON.stringify(env, null, 2));
    for (const [k, v] of Object.entries(env)) o.out(`  {${k}, ${typeof v === "string" ? v : JSON.stringify(v)}}`);
  },
  async report(c, a, o) {
    info(o, "Reporting server status of node ...");
    await verbs["status"]!(c, { ...a, positional: [] }, o);
    const vhosts = ((await c.get("/api/vhosts")) as { name: string }[]).map((v) => v.name);
    for (const section of ["list_vhosts", "list_users", "list_connections", "list_channels"]) {
      o.out("");
      await verbs[section]!(c, { ...a, positional: [] }, o);
    }
    for (const vhost of vhosts) {
      for (const section of ["list_queues", "list_exchanges", "list_bindings", "list_consumers", "list_permissions", "list_policies", "list_parameters"]) {
        o.out("");
        await verbs[section]!(c, { ...a, vhost, positional: [] }, o);
      }
    }
  },
};

// ---- helpers -----------------------------------------------------------------

function usage(text: string): never {
  throw new CtlError(`usage: warren ctl ${text}`, EX_USAGE);
}

function need(a: Args, n: number, text: string): string[] {
  if (a.positional.length < n) usage(text);
  return a.positional;
}

async function exists(c: CtlApi, path: string): Promise<boolean> {
  try {
    await c.get(path);
    return true;
  } catch (e) {
    if (e instanceof CtlError && e.status === 404) return false;
    throw e;
  }
}

async function userOp<T>(name: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof CtlError && e.status === 404) throw new CtlError(`User "${name}" does not exist`, EX_NOUSER);
    throw e;
  }
}

/** rabbitmqctl's answer when clearing something that is not there: "Parameter does not exist", exit 69. */
async function paramOp<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof CtlError && e.status === 404) throw new CtlError("Parameter does not exist", EX_UNAVAILABLE);
    throw e;
  }
}

/** A JSON argument (policy definition, parameter value, limits), as rabbitmqctl takes them. */
function json(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CtlError(`JSON decoding error. Reason: ${(e as Error).message}`, EX_UNAVAILABLE);
  }
}

async function queueOp<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof CtlError && e.status === 404) throw new CtlError("Queue not found", EX_SOFTWARE);
    throw e;
  }
}

/** ctl's options that take a value; any other -x / --x is a boolean flag (the shared parser's lenient dialect) */
const VALUE_OPTIONS: FlagSpec = Object.fromEntries(
  ["p", "vhost", "mgmt-url", "formatter", "description", "tags", "priority", "apply-to", "timeout", "t", "data-dir", "vhost-pattern", "queue-pattern"].map((n) => [n, "value"]),
);

function parseArgs(argv: string[]): { verb: string | undefined; args: Args; output: Omit<Output, "out" | "err"> } {
  let parsed: Parsed;
  try {
    parsed = parseArgv(argv, VALUE_OPTIONS, { lenient: true, aliases: { p: "vhost" } });
  } catch (e) {
    if (e instanceof UsageError && e.problem?.kind === "needs-value") throw new CtlError(`option --${e.problem.flag} needs a value`, EX_USAGE);
    throw e;
  }
  const flags = new Set<string>();
  const options = new Map<string, string>();
  for (const [k, v] of Object.entries(parsed.flags)) {
    if (typeof v === "string") options.set(k, v);
    else flags.add(k);
  }
  const positional = [...parsed.positionals, ...(parsed.rest ?? [])];
  const verb = positional.shift();
  const formatter = options.get("formatter") ?? "table";
  if (formatter !== "table" && formatter !== "json") throw new CtlError(`unsupported formatter '${formatter}' (table or json)`, EX_USAGE);
  return {
    verb,
    args: { vhost: options.get("vhost") ?? "/", positional, flags, options },
    output: { quiet: flags.has("q") || flags.has("quiet") || flags.has("s") || flags.has("silent"), json: formatter === "json", headers: !flags.has("no-table-headers") },
  };
}

const HELP = `usage: warren ctl [--mgmt-url http://user:pass@host:15672] [-p vhost] [-q] [--formatter json] <verb> [args]

Talks to a running server's management API. Which server: --mgmt-url, else WARREN_MGMT_URL, else
the local server's <data dir>/fleet/local.json (--data-dir, WARREN_DATA_DIR, default ./data), else
${DEFAULT_URL}; any but the default is named on stderr.

verbs (warren ctl help VERB for one):
  ${Object.keys(VERB_HELP)
    .join(" ")
    .replace(/(.{1,96})(\s|$)/g, "$1\n  ")
    .trimEnd()}

Columns are the management API's field names (rabbitmqctl's names are accepted
where they differ, e.g. source_name, queue_name, channel_pid).`;

export async function ctlMain(
  argv: string[],
  io: { out(s: string): void; err(s: string): void } = {
    out: (s) => process.stdout.write(s + "\n"),
    err: (s) => process.stderr.write(s + "\n"),
  },
): Promise<number> {
  try {
    const { verb, args, output } = parseArgs(argv);
    if (verb === "help" && args.positional.length > 0) return helpFor(args.positional[0]!, io);
    if (verb && verbs[verb] && (args.flags.has("help") || args.flags.has("h"))) return helpFor(verb, io);
    if (!verb || verb === "help" || args.flags.has("help") || args.flags.has("h")) {
      io.out(HELP);
      return verb || args.flags.size > 0 ? 0 : EX_USAGE;
    }
    const f = verbs[verb];
    if (!f) throw new CtlError(`unknown verb '${verb}'. Run 'warren ctl help' for the list.`, EX_USAGE);
    const server = findServer(args.options.get("mgmt-url"), args.options.get("data-dir"));
    // a script must know which server answered when it is not the one it would guess
    if (server.source !== "default" && server.source !== "--mgmt-url" && !output.quiet) io.err(`Using the management API at ${new CtlApi(server.url).target} (from ${server.source})`);
    await f(new CtlApi(server.url), args, { ...output, out: io.out, err: io.err });
    return 0;
  } catch (e) {
    if (e instanceof CtlError) {
      io.err(`Error:\n${e.message}`);
      return e.exitCode;
    }
    io.err(`Error:\n${(e as Error).stack ?? String(e)}`);
    return EX_SOFTWARE;
  }
}
