/**
 * `warren ctl VERB …`: rabbitmqctl's verbs, arguments and output shape for the
 * common operations, implemented as calls to the management HTTP API (never
 * importing the broker), so it administers a running warren — or a RabbitMQ.
 *
 * Server address: --mgmt-url http://user:pass@host:port, else WARREN_MGMT_URL,
 * else http://guest:guest@localhost:15672. Global options as rabbitmqctl's:
 * -p/--vhost, -q/--quiet, --no-table-headers, --formatter json.
 * Exit codes: 0 ok, 64 usage, 67 no such user, 69 server unreachable,
 * 70 refused by the server, 77 not authorised (see ctl-http.ts).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { CtlError, EX_NOUSER, EX_SOFTWARE, EX_USAGE, MgmtClient, enc, info, table, type Output } from "./ctl-http.js";

interface Args {
  vhost: string;
  positional: string[];
  flags: Set<string>;
  options: Map<string, string>;
}

type Verb = (c: MgmtClient, a: Args, o: Output) => Promise<void>;

const DEFAULT_URL = "http://guest:guest@localhost:15672";

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
  c: MgmtClient, a: Args, o: Output,
  opts: { path: string; defaults: string[]; heading: string; aliases?: Record<string, (r: Record<string, unknown>) => unknown>; filter?: (r: Record<string, unknown>) => boolean },
): Promise<void> {
  const cols = a.positional.length > 0 ? a.positional : opts.defaults;
  let rows = (await c.get(opts.path)) as Record<string, unknown>[];
  if (opts.filter) rows = rows.filter(opts.filter);
  info(o, opts.heading);
  table(o, cols, rows.map((r) => Object.fromEntries(cols.map((col) => [col, column(r, col, opts.aliases ?? {})]))));
}

const nested = (k: string, f: string) => (r: Record<string, unknown>): unknown => ((r[k] ?? {}) as Record<string, unknown>)[f];
const vpath = (a: Args): string => enc(a.vhost);

const verbs: Record<string, Verb> = {
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
      "Runtime", "",
      `OS PID: ${String(n["os_pid"] ?? "")}`,
      `Uptime (seconds): ${Math.floor(Number(n["uptime"] ?? 0) / 1000)}`,
      `Is under maintenance?: false`,
      `${String(ov["product_name"])} version: ${String(ov["product_version"])}`,
      `RabbitMQ API version: ${String(ov["rabbitmq_version"])}`,
      `Runtime version: ${String(ov["erlang_full_version"] ?? ov["erlang_version"])}`,
      "", "Alarms", "",
      alarms.length ? alarms.map((x) => `${x} alarm is in effect`).join("\n") : "(none)",
      "", "Memory", "",
      `Total memory used: ${(Number(n["mem_used"] ?? 0) / 1e9).toFixed(4)} gb`,
      "", "Free Disk Space", "",
      `Free disk space: ${(Number(n["disk_free"] ?? 0) / 1e9).toFixed(4)} gb`,
      "", "Totals", "",
      `Connection count: ${totals["connections"] ?? 0}`,
      `Queue count: ${totals["queues"] ?? 0}`,
      `Virtual host count: ${((await c.get("/api/vhosts")) as unknown[]).length}`,
      "", "Listeners", "",
      ...((ov["listeners"] ?? []) as Record<string, unknown>[]).map((l) => `Interface: [${String(l["ip_address"])}], port: ${String(l["port"])}, protocol: ${String(l["protocol"])}`),
    ];
    if (o.json) o.out(JSON.stringify({ overview: ov, node: n }, null, 2));
    else o.out(lines.join("\n"));
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

async function exists(c: MgmtClient, path: string): Promise<boolean> {
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

async function queueOp<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof CtlError && e.status === 404) throw new CtlError("Queue not found", EX_SOFTWARE);
    throw e;
  }
}

const VALUE_OPTIONS = new Set(["p", "vhost", "mgmt-url", "formatter", "description", "tags"]);

function parseArgs(argv: string[]): { verb: string | undefined; args: Args; url: string; output: Omit<Output, "out" | "err"> } {
  const flags = new Set<string>();
  const options = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i]!;
    if (t === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (t.startsWith("-") && t.length > 1 && !/^-\d/.test(t)) {
      let name = t.replace(/^--?/, "");
      let value: string | undefined;
      const eq = name.indexOf("=");
      if (eq >= 0) {
        value = name.slice(eq + 1);
        name = name.slice(0, eq);
      }
      if (VALUE_OPTIONS.has(name)) {
        if (value === undefined) {
          value = argv[++i];
          if (value === undefined) throw new CtlError(`option --${name} needs a value`, EX_USAGE);
        }
        options.set(name === "p" ? "vhost" : name, value);
      } else {
        flags.add(name);
      }
      continue;
    }
    positional.push(t);
  }
  const verb = positional.shift();
  const formatter = options.get("formatter") ?? "table";
  if (formatter !== "table" && formatter !== "json") throw new CtlError(`unsupported formatter '${formatter}' (table or json)`, EX_USAGE);
  return {
    verb,
    args: { vhost: options.get("vhost") ?? "/", positional, flags, options },
    url: options.get("mgmt-url") ?? process.env["WARREN_MGMT_URL"] ?? DEFAULT_URL,
    output: { quiet: flags.has("q") || flags.has("quiet") || flags.has("s") || flags.has("silent"), json: formatter === "json", headers: !flags.has("no-table-headers") },
  };
}

const HELP = `usage: warren ctl [--mgmt-url http://user:pass@host:15672] [-p vhost] [-q] [--formatter json] <verb> [args]

Talks to a running server's management API (default ${DEFAULT_URL}, or WARREN_MGMT_URL).

verbs:
  status
  list_queues [column ...]        list_exchanges [column ...]     list_bindings [column ...]
  list_connections [column ...]   list_channels [column ...]      list_consumers [column ...]
  list_users  list_vhosts  list_permissions  list_user_permissions <user>
  add_user <user> <password>      delete_user <user>              change_password <user> <password>
  set_user_tags <user> [tag ...]
  add_vhost <vhost> [--description text]                          delete_vhost <vhost>
  set_permissions <user> <conf> <write> <read>                    clear_permissions <user>
  purge_queue <queue>             delete_queue <queue> [--if-empty] [--if-unused]
  close_connection <name> <reason>
  export_definitions <file | ->   import_definitions <file>

Columns are the management API's field names (rabbitmqctl's names are accepted
where they differ, e.g. source_name, queue_name, channel_pid).`;

export async function ctlMain(argv: string[], io: { out(s: string): void; err(s: string): void } = {
  out: (s) => process.stdout.write(s + "\n"),
  err: (s) => process.stderr.write(s + "\n"),
}): Promise<number> {
  try {
    const { verb, args, url, output } = parseArgs(argv);
    if (!verb || verb === "help" || args.flags.has("help") || args.flags.has("h")) {
      io.out(HELP);
      return verb || args.flags.size > 0 ? 0 : EX_USAGE;
    }
    const f = verbs[verb];
    if (!f) throw new CtlError(`unknown verb '${verb}'. Run 'warren ctl help' for the list.`, EX_USAGE);
    await f(new MgmtClient(url), args, { ...output, out: io.out, err: io.err });
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
