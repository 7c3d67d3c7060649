/**
 * Fleet's command-line verbs: agent, collector, run, check_task, tasks, hosts
 * (add/remove), cancel, shell. `fleetMain(verb, argv)` returns the exit code;
 * the `warren` binary calls it. Operator verbs talk to the collector over AMQP
 * RPC (rpc.ts), enrolment to the broker's management API (mgmt.ts); nothing
 * here imports the broker.
 *
 * Exit codes: exitcodes.ts (0 all ok, 1 some failed, 2 usage, 3 unreachable,
 * 4 not found, 5 refused, 6 not done yet, 130 detached with Ctrl-C).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync, type Stats } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, join, resolve as resolvePath } from "node:path";
import { userInfo } from "node:os";
import { Agent } from "./agent.js";
import { Collector } from "./collector.js";
import { brokerUrls, resolveMgmtUrl, localServerUrl, resolveUrl, redact } from "./conn.js";
import { formatGroups, formatHosts, formatTask, formatTaskOneLine, formatTasks, PLAIN, progressLine, statusLine, type Style } from "./format.js";
import type { WatchMessage } from "./watch.js";
import { EXIT, exitForError, exitForResults } from "./exitcodes.js";
import { FleetMgmt, vhostOf } from "./mgmt.js";
import { FleetClient, RpcError } from "./rpc.js";
import type { HostView, TaskView } from "./service.js";
import type { GroupRow } from "./store.js";
import { fleetDir, loadPrivateKey, loadTrustedKeys, type OperatorKey } from "./sign.js";
import { assertName, agentUser, hostQueue } from "./topology.js";
import { list, parseArgs, parseDuration, parseIntArg, parseSize, str, UsageError, type FlagSpec, type Parsed } from "./args.js";
import { startStandaloneHttp } from "./http.js";
import { runShell } from "./shell.js";
import { checkPushDest, parsePushMode, PUSH_MAX_BYTES, sha256Hex } from "./push.js";
import { MONITOR_FLAGS, MONITOR_HELP, monitorVerb } from "./monitor/cli.js";

export interface Io {
  out(s: string): void;
  err(s: string): void;
  /** true when stderr is a terminal (live progress line with \r) */
  tty: boolean;
  /** true when stdout is a terminal (colours by default) */
  outTty?: boolean;
}

const stdio: Io = { out: (s) => process.stdout.write(s + "\n"), err: (s) => process.stderr.write(s + "\n"), tty: !!process.stderr.isTTY, outTty: !!process.stdout.isTTY };

const COMMON: FlagSpec = {
  url: "value",
  "url-file": "value",
  "mgmt-url": "value",
  "data-dir": "value",
  key: "value",
  json: "bool",
  help: "bool",
  user: "value",
  color: "bool",
  "no-color": "bool",
  "one-line": "bool",
};

/** Colours: --no-color or NO_COLOR (https://no-color.org) off; --color on; else on a terminal. */
function styleFor(p: Parsed, io: Io): Style {
  if (p.flags["no-color"] || (process.env.NO_COLOR ?? "") !== "") return PLAIN;
  return { color: !!p.flags.color || !!io.outTty };
}

export const HELP: Record<string, string> = {
  agent: `warren agent --name NAME [--groups a,b] [--url-file FILE | --url URL] [--data-dir DIR] [--trust PUBKEY_FILE]...
  Run the Fleet agent for this host: consume fleet.host.NAME, run signed commands, report results.
  --url-file FILE (env WARREN_URL_FILE) reads the broker URL from a 0600 file, keeping its password out of \`ps\`.
  --concurrency N (4)   --max-output SIZE (1M)   --heartbeat DUR (10s)   --grace DUR (10s)
  --push-dir DIR…  accept \`warren push\` files into DIR (or below it); default: refuse every push
  --push-max SIZE  largest pushed file accepted (default and ceiling 1M)
  Trusts <data-dir>/fleet/operator.pub automatically (zero setup beside a local warren server).`,
  collector: `warren collector [--url URL] [--data-dir DIR] [--http-port N] [--mgmt-url URL] [--trust PUBKEY_FILE]... [--trust-user USER]...
  Store results in <data-dir>/fleet/fleet.db and answer the CLI (for RabbitMQ deployments;
  \`warren server\` runs one in-process). --http-port serves /api/fleet/... (users checked against --mgmt-url).
  Monitoring: --nodata-grace DUR (no nodata this long after connecting; default max(nodata, 10s)),
  --compact-after DUR (raw samples older than this become compressed chunks; default 10m).`,
  run: `warren run "CMD" (--hosts h1 h2 … | --group G | --match 'web*' | --where KEY=VALUE) [options]
  warren run (--hosts …) -- PROGRAM ARG…      run argv directly, without a shell
  Prints "task id: N" at once. Options:
  --wait        block with a live progress line until every host is final, then show results
  --follow      stream output as it comes, then show results
  --timeout D   kill the command's process group after D (default 10m)
  --ttl D       hosts that have not taken it after D report expired (default 1h)
  --where K=V   only hosts whose facts match (repeatable, all must hold; K!=V negates; V may use * ?):
                name, hostname, os (platform or distribution: linux, debian), distro, version, arch,
                release, address, agent, group. Narrows --hosts/--group/--match, or alone picks
                among all known hosts: --group web --where os=debian
  --batch N     rolling: N hosts at a time, next batch when the previous is final
  --max-output SIZE   cap stdout+stderr per host (agent default 1M)
  --json        machine-readable output
  --one-line    one line per host: host | status | rc=N | output (newlines as \\n)
  --color / --no-color   colours (default: on a terminal, unless NO_COLOR is set)
  Exit codes: 0 all ok, 1 some failed, 2 usage, 3 some unreachable (or Fleet itself),
  4 not found, 5 refused, 6 not done yet (check_task), 130 Ctrl-C (the task keeps running)`,
  push: `warren push FILE (--hosts h1 h2 … | --group G | --match 'web*' | --where KEY=VALUE) [--dest PATH] [--mode 0644] [--wait] [--ttl D]
  Copy FILE (at most 1 MiB) to each host inside a signed command carrying its SHA-256; prints "task id: N" at once.
  The agent writes it atomically (temp file, fsync, rename) only inside a directory it was started with
  (\`warren agent --push-dir DIR\`; without one every push is refused). --dest is absolute (no '..'); a trailing /
  means "into that dir"; without --dest the file goes to <first --push-dir>/<basename FILE>. The parent directory
  must exist; a symlink at the destination is refused. Offline hosts get it when they return (until --ttl, 1h).
  check_task ID shows each host's ok (with the sha256 written) or failed/rejected with the reason.`,
  check_task: `warren check_task ID [--wait] [--follow] [--json] [--one-line]
  Per-host status (queued, running, ok, failed, timeout, expired, cancelled, rejected, …) and output.`,
  tasks: `warren tasks [--limit N] [--host H] [--status S] [--by OPERATOR] [--since DUR] [--json]
  recent tasks, newest first; --status is a host status (failed, running, …) or active / done;
  --since 1h: created within the last hour`,
  hosts: `warren hosts [--json]                       known agents, groups, online/offline, last seen
warren hosts add NAME [--groups a,b] [--password P] [--mgmt-url URL]
  enrol: create broker user fleet-agent-NAME limited to its own queue and the result exchanges
warren hosts remove NAME     revoke: delete that user, close its connections, delete its queue
warren hosts set NAME [--address IP] [--port N]   inventory (the seed's host table); creates NAME if unknown`,
  groups: `warren groups [--json]                      groups: central ones (warren groups add) and those agents announce
warren groups add NAME [--description TEXT] [--hosts h1 h2 …]   create a central group (and assign hosts)
warren groups assign NAME HOST…      add hosts to a central group (run --group NAME reaches them)
warren groups unassign NAME HOST…    take hosts out of it
warren groups rm NAME                delete a central group (hosts whose agents announce it stay in it)`,
  cancel: `warren cancel ID [--json]    cancel a task: unsent hosts are cancelled, running commands killed`,
  shell: `warren shell [--url URL]    the seeds' interactive ">>:" prompt: run, check_task, tasks, hosts, cancel, help, exit`,
  ...MONITOR_HELP,
};

function usage(io: Io, verb: string, msg?: string): number {
  if (!msg) {
    io.out(HELP[verb] ?? "");
    return 0;
  }
  io.err(`warren ${verb}: ${msg}`);
  io.err(HELP[verb] ?? `unknown verb ${verb}`);
  return 2;
}

function dataDir(p: Parsed): string {
  return str(p, "data-dir") ?? process.env.WARREN_DATA_DIR ?? "./data";
}

export function operatorKey(p: Parsed): OperatorKey {
  const file = str(p, "key") ?? process.env.WARREN_FLEET_KEY ?? join(fleetDir(dataDir(p)), "operator.key");
  if (!existsSync(file)) throw new RpcError(`no operator key at ${file}: run beside \`warren server\` (it creates one in its data dir), or pass --key FILE / --data-dir DIR`, 400);
  return loadPrivateKey(file);
}

/**
 * --url, or the first line of --url-file FILE (env WARREN_URL_FILE): credentials in a file
 * (mode 0600) stay out of `ps`, which shows every process's command line to every local user.
 */
function urlFlag(p: Parsed): string | undefined {
  const direct = str(p, "url");
  if (direct) return direct;
  const file = str(p, "url-file") ?? process.env.WARREN_URL_FILE;
  if (!file) return undefined;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`--url-file ${file}: ${(e as Error).message}`);
  }
  const line = text
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l && !l.startsWith("#"));
  if (!line) throw new UsageError(`--url-file ${file}: no URL in it`);
  return line;
}

function operatorName(p: Parsed): string {
  return (
    str(p, "user") ??
    process.env.WARREN_USER ??
    (() => {
      try {
        return userInfo().username;
      } catch {
        return "operator";
      }
    })()
  );
}

export async function fleetMain(verb: string, argv: string[]): Promise<number> {
  return runVerb(verb, argv, stdio, undefined);
}

/** Shared by fleetMain and the shell (which passes its open client). */
export async function runVerb(verb: string, argv: string[], io: Io, client: FleetClient | undefined): Promise<number> {
  if (!HELP[verb]) {
    io.err(`unknown fleet verb ${JSON.stringify(verb)}; verbs: ${Object.keys(HELP).join(", ")}`);
    return 2;
  }
  let p: Parsed;
  try {
    // monitoring's verbs take `-m TEXT` (a comment), as git and Alertmanager's amtool do
    if (verb in MONITOR_HELP) argv = argv.map((a) => (a === "-m" ? "--m" : a));
    p = parseArgs(argv, { ...COMMON, ...VERB_FLAGS[verb] });
  } catch (e) {
    return usage(io, verb, (e as Error).message);
  }
  if (p.flags.help) return usage(io, verb);
  try {
    switch (verb) {
      case "agent":
        return await agentVerb(p, io);
      case "collector":
        return await collectorVerb(p, io);
      case "shell":
        return await runShell(resolveUrl(urlFlag(p), dataDir(p)), (a) => [...a, ...passThrough(p)], io, { help: HELP, run: runVerb });
      default: {
        if (verb === "hosts" && (p.positionals[0] === "add" || p.positionals[0] === "remove")) return await enrolVerb(p, io);
        const pushed = verb === "push" ? pushBody(p) : undefined;
        const own = !client;
        const c = client ?? (await FleetClient.open(resolveUrl(urlFlag(p), dataDir(p))));
        try {
          c.signAs(operatorKey(p), operatorName(p));
          return await operatorVerb(verb, p, io, c, pushed);
        } finally {
          if (own) await c.close();
        }
      }
    }
  } catch (e) {
    if (e instanceof UsageError) return usage(io, verb, e.message);
    io.err(`warren ${verb}: ${(e as Error).message}`);
    return exitForError(e);
  }
}

/** Flags the shell forwards from its own command line to each verb. */
function passThrough(p: Parsed): string[] {
  const out: string[] = [];
  for (const f of ["data-dir", "key", "user", "mgmt-url"]) if (str(p, f)) out.push(`--${f}`, str(p, f)!);
  return out;
}

const VERB_FLAGS: Record<string, FlagSpec> = {
  agent: { name: "value", groups: "multi", trust: "multi", concurrency: "value", "max-output": "value", heartbeat: "value", grace: "value", quiet: "bool", "push-dir": "multi", "push-max": "value" },
  collector: { "http-port": "value", trust: "multi", "trust-user": "multi", quiet: "bool", "nodata-grace": "value", "compact-after": "value" },
  push: { hosts: "multi", group: "value", match: "value", where: "multi", dest: "value", mode: "value", wait: "bool", ttl: "value", batch: "value" },
  run: { hosts: "multi", group: "value", match: "value", where: "multi", wait: "bool", follow: "bool", timeout: "value", ttl: "value", batch: "value", "max-output": "value" },
  check_task: { wait: "bool", follow: "bool" },
  tasks: { limit: "value", host: "value", status: "value", by: "value", since: "value" },
  hosts: { groups: "multi", password: "value", address: "value", port: "value" },
  groups: { description: "value", hosts: "multi" },
  cancel: {},
  shell: {},
  ...MONITOR_FLAGS,
};

/** First SIGINT/SIGTERM: graceful stop. A second one: exit at once. */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    let got = false;
    const on = (s: string) => (): void => {
      if (got) process.exit(130);
      got = true;
      resolve(s);
    };
    process.on("SIGINT", on("SIGINT"));
    process.on("SIGTERM", on("SIGTERM"));
  });
}

async function agentVerb(p: Parsed, io: Io): Promise<number> {
  const name = str(p, "name");
  if (!name) throw new UsageError("--name is required");
  assertName("host", name);
  const groups = list(p, "groups").map((g) => assertName("group", g));
  const dir = dataDir(p);
  const trusted = loadTrustedKeys(dir, list(p, "trust"));
  if (!trusted.size)
    throw new UsageError(`no trusted operator key: pass --trust FILE (the operator.pub printed by \`warren hosts add\`), or run beside \`warren server\` with the same --data-dir (${dir})`);
  const quiet = !!p.flags.quiet;
  const pushMax = parseSize(str(p, "push-max") ?? String(PUSH_MAX_BYTES), "--push-max");
  if (pushMax > PUSH_MAX_BYTES) throw new UsageError(`--push-max: at most ${PUSH_MAX_BYTES} bytes (1M), the cap of \`warren push\``);
  const url = resolveUrl(urlFlag(p), dir);
  const agent = new Agent({
    name,
    groups,
    url,
    loginTrusted: url === localServerUrl(dir),
    stateDir: join(fleetDir(dir), "agent", name),
    trusted,
    concurrency: parseIntArg(str(p, "concurrency") ?? "4", "--concurrency", 1),
    maxOutput: parseSize(str(p, "max-output") ?? "1M", "--max-output"),
    heartbeatMs: parseDuration(str(p, "heartbeat") ?? "10s", "--heartbeat"),
    graceMs: parseDuration(str(p, "grace") ?? "10s", "--grace"),
    log: (l) => quiet || io.err(`${new Date().toISOString()} [agent ${name}] ${l}`),
    pushDirs: pushDirs(p),
    pushMax: pushMax,
  });
  agent.start();
  const sig = await untilSignal();
  io.err(`[agent ${name}] ${sig}: stopping`);
  await agent.stop();
  return 0;
}

/** --push-dir DIR…: existing directories, made absolute (a push is checked against their real paths). */
function pushDirs(p: Parsed): string[] {
  return list(p, "push-dir").map((d) => {
    const abs = resolvePath(d);
    let st: Stats;
    try {
      st = statSync(abs);
    } catch (e) {
      throw new UsageError(`--push-dir ${d}: ${(e as Error).message}`);
    }
    if (!st.isDirectory()) throw new UsageError(`--push-dir ${d}: not a directory`);
    return abs;
  });
}

async function collectorVerb(p: Parsed, io: Io): Promise<number> {
  const dir = dataDir(p);
  const quiet = !!p.flags.quiet;
  const log = (l: string): void => void (quiet || io.err(`${new Date().toISOString()} [collector] ${l}`));
  const url = resolveUrl(urlFlag(p), dir);
  const monitor = {
    ...(str(p, "nodata-grace") ? { graceMs: parseDuration(str(p, "nodata-grace")!, "--nodata-grace") } : {}),
    ...(str(p, "compact-after") ? { compactAfterMs: parseDuration(str(p, "compact-after")!, "--compact-after") } : {}),
  };
  const c = new Collector({ url, dataDir: dir, log, trust: list(p, "trust"), trustUsers: list(p, "trust-user"), monitor });
  c.start();
  let http: { close(): Promise<void>; port: number } | undefined;
  const port = str(p, "http-port");
  if (port !== undefined) {
    http = await startStandaloneHttp(c.service, parseIntArg(port, "--http-port"), resolveMgmtUrl(str(p, "mgmt-url"), dir), vhostOf(url), c.monitor);
    log(`fleet HTTP API on http://127.0.0.1:${http.port}/api/fleet/`);
  }
  log(`operator key ${c.key.keyId} (${join(fleetDir(dir), "operator.pub")})`);
  const sig = await untilSignal();
  log(`${sig}: stopping`);
  await http?.close();
  await c.close();
  log("stopped");
  return 0;
}

async function enrolVerb(p: Parsed, io: Io): Promise<number> {
  const [action, name] = p.positionals;
  if (!name || p.positionals.length > 2) throw new UsageError(`hosts ${action} needs exactly one NAME`);
  assertName("host", name);
  const dir = dataDir(p);
  const url = resolveUrl(urlFlag(p), dir);
  const mgmt = new FleetMgmt(resolveMgmtUrl(str(p, "mgmt-url"), dir));
  const key = operatorKey(p);
  const vhost = vhostOf(url);
  const groups = list(p, "groups").map((g) => assertName("group", g));
  const client = await FleetClient.open(url);
  try {
    if (action === "add") {
      const password = str(p, "password") ?? randomBytes(18).toString("base64url");
      const { user, permissions } = await mgmt.enrol(name, vhost, password);
      await client.signed(key, operatorName(p), "hosts.add", { name, groups });
      // every node of a cluster list gets the agent's own credentials
      const agentUrl = brokerUrls(url)
        .map((one) => {
          const u = new URL(one);
          u.username = encodeURIComponent(user);
          u.password = encodeURIComponent(password);
          return u.toString();
        })
        .join(",");
      // The agent's credentials go into a 0600 file, never onto a command line (`ps` shows those).
      const credDir = join(fleetDir(dir), "enrol");
      mkdirSync(credDir, { recursive: true, mode: 0o700 });
      const urlFile = join(credDir, `${name}.url`);
      writeFileSync(urlFile, `# broker URL with the credentials of ${user}; keep this file private (mode 0600)\n${agentUrl}\n`, { mode: 0o600 });
      chmodSync(urlFile, 0o600);
      if (p.flags.json) io.out(JSON.stringify({ host: name, user, password, url: agentUrl, urlFile, vhost, permissions, groups, operatorPublicKey: key.publicPem }, null, 2));
      else {
        io.out(`enrolled ${name}: broker user ${user} (vhost ${vhost}), groups: ${groups.join(",") || "-"}`);
        io.out(`  may configure ${permissions.configure}, write ${permissions.write}, read ${permissions.read}`);
        io.out(`  its credentials are in ${urlFile} (mode 0600)`);
        io.out(`on ${name}, copy that file there (keep it 0600) as ${name}.url, save the operator key below as operator.pub and run:`);
        io.out(`  warren agent --name ${name}${groups.length ? ` --groups ${groups.join(",")}` : ""} --url-file ${name}.url --trust operator.pub`);
        io.out(key.publicPem.trimEnd());
      }
    } else {
      const done = await mgmt.revoke(name, vhost);
      const r = await client.signed<{ removed: boolean }>(key, operatorName(p), "hosts.remove", { name });
      const nothing = !r.removed && !done.userDeleted && !done.queueDeleted && !done.connectionsClosed;
      if (p.flags.json) io.out(JSON.stringify({ host: name, user: agentUser(name), removed: r.removed, ...done }));
      else if (nothing) io.err(`warren hosts remove: no host ${name}: no broker user ${agentUser(name)}, no queue, not known to the collector; nothing removed`);
      else {
        // Say only what happened: a host that announced itself but was never enrolled has no broker user.
        io.out(
          `removed ${name}: ${[
            done.userDeleted ? `broker user ${agentUser(name)} deleted` : `no broker user ${agentUser(name)} (never enrolled)`,
            done.connectionsClosed ? `${done.connectionsClosed} connection(s) closed` : "",
            done.queueDeleted ? `queue ${hostQueue(name)} deleted` : `no queue ${hostQueue(name)}`,
            r.removed ? "forgotten by the collector" : "",
          ]
            .filter(Boolean)
            .join(", ")}`,
        );
      }
      if (nothing) return EXIT.NOT_FOUND;
    }
  } finally {
    await client.close();
  }
  return 0;
}

/**
 * `warren push`: check the arguments and read FILE before anything connects — a file over the
 * cap, a bad mode or destination is a usage error (exit 2) with nothing sent.
 */
function pushBody(p: Parsed): { body: Record<string, unknown>; sha256: string; size: number } {
  const hosts = list(p, "hosts");
  const [file, ...extra] = p.positionals;
  if (!file || extra.length || p.rest) throw new UsageError("give exactly one FILE");
  const given = [hosts.length > 0, !!str(p, "group"), !!str(p, "match")].filter(Boolean).length;
  if (given > 1 || (given === 0 && !list(p, "where").length)) throw new UsageError("say exactly one of --hosts, --group or --match (or --where alone)");
  const dest = str(p, "dest");
  if (dest !== undefined) {
    const why = checkPushDest(dest);
    if (why) throw new UsageError(`--dest: ${why}`);
  }
  let mode: number;
  try {
    mode = parsePushMode(str(p, "mode") ?? "0644");
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  let st: Stats;
  try {
    st = statSync(file);
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message}`);
  }
  if (!st.isFile()) throw new UsageError(`${file}: not a regular file`);
  // Refused before anything is read or sent: the cap is Fleet's (push.ts), not the broker's.
  if (st.size > PUSH_MAX_BYTES) throw new UsageError(`${file} is ${st.size} bytes, over the push cap of ${PUSH_MAX_BYTES} bytes (1 MiB); nothing was sent`);
  const data = readFileSync(file);
  if (data.length > PUSH_MAX_BYTES) throw new UsageError(`${file} is ${data.length} bytes, over the push cap of ${PUSH_MAX_BYTES} bytes (1 MiB); nothing was sent`);
  const body: Record<string, unknown> = {
    push: { name: basename(file), dest: dest ?? null, mode, size: data.length, sha256: sha256Hex(data), data: data.toString("base64") },
    ...(hosts.length ? { hosts } : {}),
    ...(str(p, "group") ? { group: str(p, "group") } : {}),
    ...(str(p, "match") ? { match: str(p, "match") } : {}),
    ...(list(p, "where").length ? { where: list(p, "where") } : {}),
    ...(str(p, "ttl") ? { ttlMs: parseDuration(str(p, "ttl")!, "--ttl") } : {}),
    ...(str(p, "batch") ? { batch: parseIntArg(str(p, "batch")!, "--batch", 1) } : {}),
  };
  return { body, sha256: sha256Hex(data), size: data.length };
}

async function operatorVerb(verb: string, p: Parsed, io: Io, c: FleetClient, pushed?: ReturnType<typeof pushBody>): Promise<number> {
  const json = !!p.flags.json;
  if (verb in MONITOR_HELP) return monitorVerb(verb, p, io, c, (op, body) => c.signed(operatorKey(p), operatorName(p), op, body));
  const style = styleFor(p, io);
  const oneLine = !!p.flags["one-line"];
  const watchOpts = { follow: !!p.flags.follow, json, style, oneLine };
  switch (verb) {
    case "run": {
      const hosts = list(p, "hosts");
      const cmd = p.rest ? undefined : p.positionals.join(" ");
      if (!p.rest && !cmd) throw new UsageError("no command given");
      if (p.rest && p.positionals.length) throw new UsageError('give either "CMD" or -- PROGRAM ARGS, not both');
      const body: Record<string, unknown> = {
        ...(p.rest ? { argv: p.rest } : { command: cmd }),
        ...(hosts.length ? { hosts } : {}),
        ...(str(p, "group") ? { group: str(p, "group") } : {}),
        ...(str(p, "match") ? { match: str(p, "match") } : {}),
        ...(list(p, "where").length ? { where: list(p, "where") } : {}),
        ...(str(p, "timeout") ? { timeoutMs: parseDuration(str(p, "timeout")!, "--timeout") } : {}),
        ...(str(p, "ttl") ? { ttlMs: parseDuration(str(p, "ttl")!, "--ttl") } : {}),
        ...(str(p, "batch") ? { batch: parseIntArg(str(p, "batch")!, "--batch", 1) } : {}),
        ...(str(p, "max-output") ? { maxOutput: parseSize(str(p, "max-output")!, "--max-output") } : {}),
      };
      const given = [hosts.length > 0, !!str(p, "group"), !!str(p, "match")].filter(Boolean).length;
      if (given > 1 || (given === 0 && !list(p, "where").length)) throw new UsageError("say exactly one of --hosts, --group or --match (or --where alone)");
      const r = await c.signed<{ id: number; hosts: string[] }>(operatorKey(p), operatorName(p), "submit", body);
      if (json && !p.flags.wait && !p.flags.follow) io.out(JSON.stringify({ id: r.id, hosts: r.hosts }));
      else if (!json) io.out(`task id: ${r.id}`);
      if (p.flags.wait || p.flags.follow) return watch(c, r.id, io, watchOpts);
      return EXIT.OK;
    }
    case "push": {
      const { body, sha256, size } = pushed ?? pushBody(p);
      const r = await c.signed<{ id: number; hosts: string[] }>(operatorKey(p), operatorName(p), "submit", body);
      if (json && !p.flags.wait) io.out(JSON.stringify({ id: r.id, hosts: r.hosts, sha256, size }));
      else if (!json) io.out(`task id: ${r.id}`);
      if (p.flags.wait) return watch(c, r.id, io, { ...watchOpts, follow: false });
      return EXIT.OK;
    }
    case "check_task": {
      const id = taskId(p);
      if (p.flags.wait || p.flags.follow) return watch(c, id, io, watchOpts);
      const v = await c.call<TaskView>("task", { id });
      io.out(json ? JSON.stringify(v, null, 2) : oneLine ? formatTaskOneLine(v, style) : formatTask(v, style));
      return exitForResults(v.results);
    }
    case "tasks": {
      const since = str(p, "since");
      const filter = {
        limit: parseIntArg(str(p, "limit") ?? "20", "--limit", 1),
        ...(str(p, "host") ? { host: str(p, "host") } : {}),
        ...(str(p, "status") ? { status: str(p, "status") } : {}),
        ...(str(p, "by") ? { user: str(p, "by") } : {}),
        ...(since ? { since: Date.now() - parseDuration(since, "--since") } : {}),
      };
      const rows = await c.call<Parameters<typeof formatTasks>[0]>("tasks", filter);
      io.out(json ? JSON.stringify(rows, null, 2) : formatTasks(rows, style));
      return 0;
    }
    case "hosts": {
      if (p.positionals[0] === "set") {
        const [, name, ...extra] = p.positionals;
        if (!name || extra.length) throw new UsageError("hosts set needs exactly one NAME");
        const port = str(p, "port");
        const h = await c.call<HostView>("hosts.set", {
          name,
          ...(str(p, "address") !== undefined ? { address: str(p, "address") || null } : {}),
          ...(port !== undefined ? { port: port ? parseIntArg(port, "--port", 1) : null } : {}),
        });
        io.out(json ? JSON.stringify(h, null, 2) : `${h.name}: address ${h.address ?? "-"}, port ${h.port ?? "-"}`);
        return 0;
      }
      if (p.positionals.length) throw new UsageError(`unknown hosts action ${JSON.stringify(p.positionals[0])} (add, remove, set)`);
      const rows = await c.call<Parameters<typeof formatHosts>[0]>("hosts");
      io.out(json ? JSON.stringify(rows, null, 2) : formatHosts(rows, style));
      return 0;
    }
    case "groups":
      return groupsVerb(p, io, c, json);
    case "cancel": {
      const id = taskId(p);
      const r = await c.signed<{ cancelled: number; signalled: number }>(operatorKey(p), operatorName(p), "cancel", { id });
      io.out(json ? JSON.stringify(r) : `task ${id}: cancel sent — ${r.cancelled} unsent host(s) cancelled, ${r.signalled} host(s) told to stop`);
      return 0;
    }
  }
  return 2;
}

async function groupsVerb(p: Parsed, io: Io, c: FleetClient, json: boolean): Promise<number> {
  const [action, name, ...hosts] = p.positionals;
  const say = (v: unknown, human: string): number => (io.out(json ? JSON.stringify(v, null, 2) : human), 0);
  if (!action) {
    const rows = await c.call<GroupRow[]>("groups");
    return say(rows, formatGroups(rows));
  }
  if (!name) throw new UsageError(`groups ${action} needs a group NAME`);
  switch (action) {
    case "add": {
      if (hosts.length) throw new UsageError("give hosts with --hosts");
      const r = await c.call<{ created: boolean; assigned: string[] }>("groups.add", { name, description: str(p, "description") ?? "", hosts: list(p, "hosts") });
      return say(r, `group ${name} ${r.created ? "created" : "already existed"}${r.assigned.length ? `; assigned ${r.assigned.join(" ")}` : ""}`);
    }
    case "rm": {
      if (hosts.length) throw new UsageError("groups rm takes one NAME");
      const r = await c.call<{ unassigned: string[]; stillAnnounced: string[] }>("groups.rm", { name });
      return say(
        r,
        `group ${name} removed${r.unassigned.length ? `; unassigned ${r.unassigned.join(" ")}` : ""}${r.stillAnnounced.length ? `; still announced by their agents (not removable here): ${r.stillAnnounced.join(" ")}` : ""}`,
      );
    }
    case "assign":
    case "unassign": {
      const all = [...hosts, ...list(p, "hosts")];
      const r = await c.call<{ changed: string[]; unchanged: string[] }>(`groups.${action}`, { name, hosts: all });
      const verb = action === "assign" ? "assigned to" : "unassigned from";
      return say(
        r,
        `${r.changed.length ? `${r.changed.join(" ")} ${verb} ${name}` : `nothing ${verb.split(" ")[0]}`}${r.unchanged.length ? `; already ${action === "assign" ? "in it" : "not in it"}: ${r.unchanged.join(" ")}` : ""}`,
      );
    }
    default:
      throw new UsageError(`unknown groups action ${JSON.stringify(action)} (add, rm, assign, unassign)`);
  }
}

function taskId(p: Parsed): number {
  const s = p.positionals[0];
  if (!s || p.positionals.length > 1) throw new UsageError("give one task ID");
  return parseIntArg(s, "task ID", 1);
}

/** What --wait / --follow show, besides the events. */
interface WatchOpts {
  follow: boolean;
  json: boolean;
  style: Style;
  oneLine: boolean;
}

/**
 * --wait / --follow: the collector pushes this task's events to our reply queue (watch.ts):
 * output as the agents produce it, coalesced progress, then done. We renew the watch every few
 * seconds (it also re-attaches us after a collector restart). Ctrl-C detaches and says how to
 * come back; the task keeps running.
 */
async function watch(c: FleetClient, id: number, io: Io, o: WatchOpts): Promise<number> {
  const inbox: WatchMessage[] = [];
  let wake: () => void = () => {};
  const stream = c.openStream((m) => {
    inbox.push(m as WatchMessage);
    wake();
  });
  let interrupted = false;
  let onInterrupt: () => void = () => {};
  const interruption = new Promise<"interrupted">((r) => (onInterrupt = () => r("interrupted")));
  const onSigint = (): void => {
    interrupted = true;
    onInterrupt();
    wake();
  };
  process.once("SIGINT", onSigint);
  // Until Ctrl-C: a collector call, or a wait for the next event (bounded by `ms`).
  const orInterrupt = <T>(p: Promise<T>): Promise<T | "interrupted"> => Promise.race([p, interruption]);
  const lines = new Map<string, string>(); // host+stream → the incomplete last line
  const print = (host: string, s: "stdout" | "stderr", data: string, flushAll = false): void => {
    const k = `${host}\0${s}`;
    const text = (lines.get(k) ?? "") + data;
    const parts = text.split("\n");
    const rest = parts.pop()!;
    for (const l of parts) (s === "stdout" ? io.out : io.err)(`${paint(o.style, host)} ${l}`);
    if (flushAll && rest) (s === "stdout" ? io.out : io.err)(`${paint(o.style, host)} ${rest}`);
    lines.set(k, flushAll ? "" : rest);
  };
  const paint = (st: Style, host: string): string => (st.color ? `\x1b[1m[${host}]\x1b[0m` : `[${host}]`);
  let lastLine = "";
  const progress = (counts: Record<string, number>): void => {
    if (o.json) return;
    const line = progressLine({ id, counts }, o.style);
    if (line === lastLine) return;
    lastLine = line;
    if (io.tty) process.stderr.write(`\r\x1b[K${line}`);
    else if (!o.follow) io.err(line);
  };
  try {
    const first = await orInterrupt(c.call<TaskView>("watch", { id, stream: stream.id }));
    let done = first !== "interrupted" && first.state === "done";
    if (first !== "interrupted") {
      if (o.follow && !o.json) for (const r of first.results) for (const s of ["stdout", "stderr"] as const) if (r[s]) print(r.host, s, r[s]);
      progress(first.counts);
    }
    let renewAt = Date.now() + 5000;
    while (!done && !interrupted) {
      if (!inbox.length) {
        await new Promise<void>((r) => {
          const t = setTimeout(r, Math.max(0, renewAt - Date.now()));
          wake = () => (clearTimeout(t), r());
        });
      }
      for (const m of inbox.splice(0)) {
        if (m.kind === "output" && o.follow && !o.json) print(m.host, m.stream, m.data);
        else if (m.kind === "progress") progress(m.counts);
        else if (m.kind === "done") done = true;
      }
      if (!done && !interrupted && Date.now() >= renewAt) {
        const v = await orInterrupt(c.call<TaskView>("watch", { id, stream: stream.id }));
        if (v !== "interrupted" && v.state === "done") done = true;
        renewAt = Date.now() + 5000;
      }
    }
    if (!o.json && io.tty && lastLine) process.stderr.write("\n");
    if (interrupted) {
      io.err(`detached from task ${id}; it keeps running on its hosts.`);
      io.err(`  follow it again: warren check_task ${id} --follow`);
      io.err(`  cancel it:       warren cancel ${id}`);
      return EXIT.INTERRUPTED;
    }
    for (const k of lines.keys()) {
      const [host, s] = k.split("\0") as [string, "stdout" | "stderr"];
      print(host, s, "", true);
    }
    const v = await c.call<TaskView>("task", { id });
    if (o.json) io.out(JSON.stringify(v, null, 2));
    else if (o.follow) io.out(`task ${id} done: ${statusLine(v.counts, o.style)}`);
    else io.out(o.oneLine ? formatTaskOneLine(v, o.style) : formatTask(v, o.style));
    return exitForResults(v.results);
  } finally {
    process.off("SIGINT", onSigint);
    stream.close();
  }
}

export { redact };
