/**
 * The shared command-line parser (src/lib/argv.ts) in both dialects: Fleet's strict one (declared
 * `--flags` only, -h is help) and ctl's lenient one (rabbitmqctl-like: -x and --x, undeclared flags
 * are booleans, -p is --vhost, -5 is a positional); and the errors each caller words its own way.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseArgv, list, str, UsageError } from "../../../src/lib/argv.js";

const fleetSpec = { hosts: "multi", timeout: "value", json: "bool" } as const;

test("strict: values, multi values up to the next flag, commas split, -- ends flags, -h is help", () => {
  const p = parseArgv(["run", "--hosts", "h1", "h2,h3", "--timeout=30s", "--json", "-h", "-", "--", "uptime", "--json"], fleetSpec);
  assert.deepEqual(p.positionals, ["run", "-"]);
  assert.deepEqual(list(p, "hosts"), ["h1", "h2", "h3"]);
  assert.equal(str(p, "timeout"), "30s");
  assert.equal(p.flags["json"], true);
  assert.equal(p.flags["help"], true);
  assert.deepEqual(p.rest, ["uptime", "--json"]);
  assert.deepEqual(parseArgv(["-q", "x"], fleetSpec).positionals, ["-q", "x"], "single-dash words are positionals");
  assert.deepEqual(list(parseArgv(["--hosts=a,b", "--hosts", "c"], fleetSpec), "hosts"), ["a", "b", "c"]);
});

test("strict: undeclared flags, a value on a bool, a missing value are errors with Fleet's words", () => {
  const cases: Array<[string[], string, string]> = [
    [["--nope"], "unknown option --nope", "unknown"],
    [["--json=yes"], "--json takes no value", "takes-no-value"],
    [["--timeout"], "--timeout needs a value", "needs-value"],
    [["--hosts", "--json"], "--hosts needs at least one value", "needs-values"],
  ];
  for (const [argv, message, kind] of cases) {
    assert.throws(
      () => parseArgv(argv, fleetSpec),
      (e: unknown) => e instanceof UsageError && e.message === message && e.problem?.kind === kind,
      argv.join(" "),
    );
  }
});

test("lenient: -x and --x are flags, undeclared ones booleans (a value after = ignored), aliases, -5 positional", () => {
  const spec = { p: "value", vhost: "value", formatter: "value" } as const;
  const p = parseArgv(["-p", "v1", "list_queues", "name", "-q", "--no-table-headers", "--weird=1", "-5", "--formatter=json"], spec, { lenient: true, aliases: { p: "vhost" } });
  assert.deepEqual(p.positionals, ["list_queues", "name", "-5"]);
  assert.equal(str(p, "vhost"), "v1");
  assert.equal(p.flags["q"], true);
  assert.equal(p.flags["no-table-headers"], true);
  assert.equal(p.flags["weird"], true);
  assert.equal(str(p, "formatter"), "json");
  assert.equal(str(parseArgv(["-p", "a", "--vhost", "b"], spec, { lenient: true, aliases: { p: "vhost" } }), "vhost"), "b", "the last one wins");
  assert.equal(parseArgv(["-h"], spec, { lenient: true }).flags["h"], true);
  assert.throws(
    () => parseArgv(["list_queues", "-p"], spec, { lenient: true }),
    (e: unknown) => e instanceof UsageError && e.problem?.kind === "needs-value" && e.problem.flag === "p",
  );
});
