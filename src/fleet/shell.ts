/**
 * `warren shell`: the seeds' interactive prompt (`>>:run "df -h" --hosts a b`,
 * `>>:check_task 45334`) with the same verbs as the command line, help, and a
 * history kept in ~/.warren_fleet_history. One broker connection for the
 * session. Works with piped stdin too (one command per line), for scripts.
 */
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { splitLine } from "./args.js";
import type { Io } from "./cli.js";
import { FleetClient } from "./rpc.js";
import { brokerUrls } from "./conn.js";

const VERBS = ["run", "push", "check_task", "tasks", "hosts", "groups", "cancel"];

/** What the shell runs: the CLI's verbs and their help, handed in by cli.ts (so shell.ts never imports it at run time). */
export interface ShellVerbs {
  help: Record<string, string>;
  run(verb: string, argv: string[], io: Io, client: FleetClient): Promise<number>;
}

export async function runShell(url: string, extra: (args: string[]) => string[], io: Io, verbs: ShellVerbs): Promise<number> {
  const HELP = verbs.help;
  const client = await FleetClient.open(url);
  const histFile = process.env.WARREN_FLEET_HISTORY ?? join(homedir(), ".warren_fleet_history");
  const history = existsSync(histFile) ? readFileSync(histFile, "utf8").split("\n").filter(Boolean).reverse().slice(0, 500) : [];
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    prompt: ">>:",
    history,
    historySize: 500,
    terminal: !!process.stdin.isTTY,
    completer: (line: string) => [[...VERBS, "help", "exit"].filter((v) => v.startsWith(line)), line],
  });
  const interactive = !!process.stdin.isTTY;
  if (interactive) io.out(`Fleet shell on ${new URL(brokerUrls(url)[0]!).host} — type help, or run "df -h" --hosts h1 h2`);
  rl.prompt();
  try {
    for await (const line of rl) {
      const t = line.trim();
      if (t) {
        try {
          appendFileSync(histFile, t + "\n");
        } catch {
          /* history is a convenience */
        }
        let words: string[] = [];
        try {
          words = splitLine(t);
        } catch (e) {
          io.err((e as Error).message);
        }
        const [verb, ...args] = words;
        if (verb === "exit" || verb === "quit") break;
        if (verb === "help" || verb === "?") io.out(args[0] && HELP[args[0]] ? HELP[args[0]]! : ["verbs:", ...VERBS.map((v) => HELP[v]!), "help VERB, exit"].join("\n"));
        else if (verb && VERBS.includes(verb)) await verbs.run(verb, extra(args), io, client);
        else if (verb) io.err(`unknown command ${JSON.stringify(verb)} — try help`);
      }
      rl.prompt();
    }
  } finally {
    rl.close();
    await client.close();
  }
  return 0;
}
