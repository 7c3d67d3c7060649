/**
 * `npm run bench`: runs the scenarios against warren (started here as a child
 * process, fresh for every measurement) and, with --rabbitmq, against a
 * RabbitMQ, alternating A B A B for --rounds rounds, then prints one table
 * row per metric: medians, min–max, the ratio warren/RabbitMQ, the target
 * and whether it is met. --markdown FILE writes the same table with the
 * machine facts. --smoke is the CI variant: s1, s2, s4 and overload-1-1 for a fraction of a
 * second each, one round; it never judges speed.
 *
 * Owns: option parsing, scheduling and reporting. Does not own: load
 * generation (load/), wire format (wire/), the scenarios (scenarios/).
 * Exit status: 0 when every measurement ran, 1 when any failed (the table is
 * printed either way), 2 on bad usage. Missing targets never fail the run.
 */
import { writeFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { rabbitmq, rabbitVersion, startWarren, type Broker, type BrokerName, type RabbitOptions } from "./brokers.js";
import { markdownTable, textTable, type Row } from "./table.js";
import type { BenchOptions, Scenario } from "./scenarios/types.js";
import { s1, s2, s3, s4, s5 } from "./scenarios/throughput.js";
import { s6 } from "./scenarios/latency.js";
import { s7 } from "./scenarios/connections.js";
import { s8, s8f } from "./scenarios/backlog.js";
import { s9 } from "./scenarios/topic.js";
import { s10 } from "./scenarios/durable-queues.js";
import { OVERLOAD } from "./scenarios/overload.js";
import { m1 } from "./scenarios/monitoring.js";
import { f1 } from "./scenarios/fleet.js";

const ALL: Scenario[] = [s1, s2, s3, s4, s5, s6, s7, s8, s8f, s9, s10, ...OVERLOAD, m1, f1];
const SMOKE = ["s1", "s2", "s4", "overload-1-1"];

const USAGE = `usage: npm run bench -- [options]
  --rabbitmq URL             also measure this RabbitMQ (amqp://guest:guest@127.0.0.1:5672[/vhost])
  --rabbitmq-mgmt URL        its management API (default http://USER:PASS@HOST:15672), for memory figures
  --rabbitmq-restart-cmd CMD shell command that restarts RabbitMQ, for s10 (otherwise n/a)
  --only warren|rabbitmq     measure one broker only
  --scenarios s1,s2,...      default: all (s1..s10, s8f, overload-*, m1, f1)
  --rounds N                 A B alternations (default 3)
  --duration SECONDS         measured window per throughput/latency run (default 10)
  --warmup SECONDS           unmeasured lead-in (default 2)
  --s7-connections N,N       default 1000,10000
  --s8-messages N            default 1000000
  --s8f-messages N           s8f (fanout backlog): messages, default 200000
  --s10-queues N             default 100000
  --overload-duration SECONDS  window of the overload-* scenarios (default 60)
  --m1-hosts N               m1 (Fleet monitoring at scale): simulated hosts (default 10000)
  --m1-items N               items per host (default 20)
  --m1-interval SECONDS      their interval (default 10)
  --m1-duration SECONDS      measured window (default 600)
  --f1-hosts N               f1 (Fleet control plane, no-op agents): agents in the group (default 10000)
  --f1-runs N                tasks per measurement, their medians reported (default 3)
  --warren-arg ARG           extra argument for 'warren server' (repeatable)
  --markdown FILE            also write the table as markdown
  --smoke                    CI: s1,s2,s4,overload-1-1, tiny windows, one round, no speed judgement`;

interface Cli {
  rabbit: RabbitOptions | null;
  only: BrokerName | null;
  scenarios: Scenario[];
  rounds: number;
  markdown: string | null;
  warrenArgs: string[];
  bench: BenchOptions;
}

function parse(argv: string[]): Cli {
  const get = new Map<string, string>();
  const warrenArgs: string[] = [];
  let smoke = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--smoke") smoke = true;
    else if (a === "--help" || a === "-h") usage(0);
    else if (a.startsWith("--") && i + 1 < argv.length) {
      const v = argv[++i]!;
      if (a === "--warren-arg") warrenArgs.push(v);
      else get.set(a.slice(2), v);
    } else usage(2, `unknown or incomplete option ${a}`);
  }
  const known = [
    "rabbitmq",
    "rabbitmq-mgmt",
    "rabbitmq-restart-cmd",
    "only",
    "scenarios",
    "rounds",
    "duration",
    "warmup",
    "s7-connections",
    "s8-messages",
    "s8f-messages",
    "s10-queues",
    "overload-duration",
    "markdown",
    "m1-hosts",
    "m1-items",
    "m1-interval",
    "m1-duration",
    "f1-hosts",
    "f1-runs",
  ];
  for (const k of get.keys()) if (!known.includes(k)) usage(2, `unknown option --${k}`);
  const num = (k: string, d: number) => {
    const v = get.get(k);
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) usage(2, `--${k} needs a positive number`);
    return n;
  };
  const only = (get.get("only") ?? null) as BrokerName | null;
  if (only && only !== "warren" && only !== "rabbitmq") usage(2, "--only is warren or rabbitmq");
  const rabbitUrl = get.get("rabbitmq");
  if (only === "rabbitmq" && !rabbitUrl) usage(2, "--only rabbitmq needs --rabbitmq URL");
  const ids = (get.get("scenarios") ?? (smoke ? SMOKE.join(",") : ALL.map((s) => s.id).join(","))).split(",").map((s) => s.trim());
  const scenarios = ids.map((id) => ALL.find((s) => s.id === id) ?? usage(2, `unknown scenario ${id}`));
  return {
    rabbit: rabbitUrl ? { url: rabbitUrl, mgmtUrl: get.get("rabbitmq-mgmt"), restartCmd: get.get("rabbitmq-restart-cmd") } : null,
    only,
    scenarios,
    rounds: Math.round(num("rounds", smoke ? 1 : 3)),
    markdown: get.get("markdown") ?? null,
    warrenArgs,
    bench: {
      duration: num("duration", smoke ? 0.5 : 10),
      warmup: num("warmup", smoke ? 0.2 : 2),
      smoke,
      s7Connections: (get.get("s7-connections") ?? (smoke ? "50" : "1000,10000")).split(",").map(Number),
      s8Messages: num("s8-messages", smoke ? 10_000 : 1_000_000),
      s8fMessages: num("s8f-messages", smoke ? 5_000 : 200_000),
      s10Queues: num("s10-queues", smoke ? 100 : 100_000),
      overloadDuration: num("overload-duration", smoke ? 1 : 60),
      m1Hosts: num("m1-hosts", smoke ? 20 : 10_000),
      m1Items: num("m1-items", 20),
      m1IntervalMs: num("m1-interval", smoke ? 1 : 10) * 1000,
      m1Duration: num("m1-duration", smoke ? 8 : 600),
      f1Hosts: Math.round(num("f1-hosts", smoke ? 100 : 10_000)),
      f1Runs: Math.round(num("f1-runs", smoke ? 2 : 3)),
      log: (m) => process.stderr.write(`${m}\n`),
    },
  };
}

function usage(code: number, msg?: string): never {
  if (msg) process.stderr.write(`bench: ${msg}\n`);
  process.stderr.write(`${USAGE}\n`);
  process.exit(code);
}

let current: Broker | null = null;

async function measureOnce(cli: Cli, sc: Scenario, name: BrokerName): Promise<Record<string, number | null>> {
  const broker = name === "warren" ? await startWarren(cli.warrenArgs) : rabbitmq(cli.rabbit!);
  current = broker;
  try {
    return await sc.run(broker, cli.bench);
  } finally {
    current = null;
    await broker.stop();
  }
}

async function main(): Promise<number> {
  const cli = parse(process.argv.slice(2));
  const brokers: BrokerName[] = cli.only ? [cli.only] : cli.rabbit ? ["warren", "rabbitmq"] : ["warren"];
  const log = cli.bench.log;
  const rows: Row[] = [];
  let failures = 0;
  for (const sc of cli.scenarios) {
    const scRows = sc.metrics(cli.bench).map((metric): Row => ({ scenario: sc.id, metric, values: { warren: [], rabbitmq: [] }, errors: {} }));
    rows.push(...scRows);
    for (let round = 1; round <= cli.rounds; round++) {
      for (const name of brokers) {
        log(`[${sc.id}] round ${round}/${cli.rounds} ${name}: ${sc.title}`);
        try {
          const r = await measureOnce(cli, sc, name);
          for (const row of scRows) {
            const v = r[row.metric.key];
            if (typeof v === "number" && Number.isFinite(v)) row.values[name].push(v);
          }
          log(
            `[${sc.id}]   ${Object.entries(r)
              .map(([k, v]) => `${k}=${v === null ? "n/a" : v.toFixed(2)}`)
              .join(" ")}`,
          );
        } catch (e) {
          failures++;
          const msg = e instanceof Error ? e.message : String(e);
          for (const row of scRows) row.errors[name] = msg;
          log(`[${sc.id}]   FAILED on ${name}: ${msg}`);
        }
      }
    }
  }
  const table = textTable(rows);
  process.stdout.write(`\n${table}\n`);
  if (cli.markdown) writeFileSync(cli.markdown, await markdownReport(cli, rows));
  if (failures) log(`bench: ${failures} measurement(s) failed`);
  return failures ? 1 : 0;
}

async function markdownReport(cli: Cli, rows: Row[]): Promise<string> {
  const cpu = cpus();
  const facts = [
    `- date: ${new Date().toISOString()}`,
    `- CPU: ${cpu.length} × ${cpu[0]?.model ?? "?"}`,
    `- memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB; kernel ${release()}`,
    `- node ${process.version}`,
    `- RabbitMQ: ${cli.rabbit ? await rabbitVersion(cli.rabbit) : "not measured"}`,
    `- command: \`npm run bench -- ${process.argv.slice(2).join(" ")}\``,
    `- rounds: ${cli.rounds}; window ${cli.bench.duration} s after ${cli.bench.warmup} s warmup` +
      (cli.scenarios.some((s) => s.id.startsWith("overload-")) ? `; overload-* runs ${cli.bench.overloadDuration} s from the publishers' start` : ""),
  ];
  return `${facts.join("\n")}\n\n${markdownTable(rows)}\n`;
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    void (current?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
