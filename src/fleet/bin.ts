/**
 * Stand-alone launcher for Fleet verbs until (and besides) the `warren` binary:
 * `node dist/src/fleet/bin.js VERB ARGS…`. Used by the tests and the bench to
 * run agents and collectors as separate processes.
 */
import { fleetMain } from "./cli.js";

const [verb, ...argv] = process.argv.slice(2);
fleetMain(verb ?? "help", argv).then(
  // stdout to a pipe is asynchronous: exit once what was written has left (a 1 MB --json view was cut short)
  (code) => process.stdout.write("", () => process.exit(code)),
  (e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
