/**
 * The `warren` command: dispatches verbs to the server, `ctl` (management API
 * client) and Fleet commands. Exit codes: 0 ok, 1 runtime failure, 2 usage.
 */
import { serverMain } from "./server.js";

const FLEET_VERBS = new Set(["agent", "run", "push", "check_task", "tasks", "hosts", "groups", "cancel", "shell", "collector", "template", "metrics", "alerts", "silence"]);

const USAGE = `usage: warren <command> [options]

commands:
  server        run the broker (AMQP on 5672, management on 15672)
  ctl <verb>    rabbitmqctl-like administration over the management API
  agent         run a Fleet agent on this host
  run CMD       dispatch a shell command to hosts (Fleet); prints a task id
  push FILE     copy a file (<= 1 MiB, signed, sha256-checked) to hosts (Fleet); prints a task id
  check_task ID show each host's result of a task
  tasks, hosts, groups, cancel, shell, collector   (Fleet; see docs/fleet.md)
  template, metrics, alerts, silence       (Fleet monitoring; see docs/monitoring.md)

Run 'warren <command> --help' for the options of a command.`;

export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (!verb || verb === "--help" || verb === "-h" || verb === "help") {
    process.stdout.write(USAGE + "\n");
    return verb ? 0 : 2;
  }
  if (verb === "--version" || verb === "-V" || verb === "version") {
    const { VERSION } = await import("../main/warren.js");
    const { RABBITMQ_COMPAT_VERSION } = await import("../lib/compat.js");
    process.stdout.write(`warren ${VERSION} (RabbitMQ ${RABBITMQ_COMPAT_VERSION} compatible)\n`);
    return 0;
  }
  if (verb === "server") return serverMain(rest);
  if (verb === "ctl") {
    const { ctlMain } = await import("./ctl.js");
    return ctlMain(rest);
  }
  if (FLEET_VERBS.has(verb)) {
    const { fleetMain } = await import("../fleet/cli.js");
    return fleetMain(verb, rest);
  }
  process.stderr.write(`warren: unknown command '${verb}'\n\n${USAGE}\n`);
  return 2;
}
