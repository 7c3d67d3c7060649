/**
 * Child process for compaction.test.ts: a Broker on a real definitions log in
 * WARREN_COMPACTION_DIR, compacting every few dozen commands, changing topology as fast as
 * it can until SIGKILLed. Each turn it declares one durable queue `keep.<n>` bound to the
 * durable exchange `x` (key = the queue's name), deletes an earlier keep queue now and
 * then, and churns declare+delete cycles of `tmp.*` queues to make the log outgrow the
 * live definitions. Once the definitions log confirms a turn durable (syncDefinitions)
 * it prints, on stdout (a pipe: a printed line was printed before the next step):
 *   READY                the log was replayed
 *   C keep.<n>           keep.<n> and its binding are durable
 *   d keep.<n>           about to delete keep.<n> (from here on it may be gone)
 *   D keep.<n>           the deletion of keep.<n> is durable
 *
 * WARREN_COMPACTION_CRASH=before-sync|after-sync:<k> makes the k-th compaction SIGKILL the
 * process with its snapshot file written but not fsynced, or fsynced but not yet renamed
 * over the log (the log's fdatasyncSync is only called by compaction). Started without
 * WARREN_COMPACTION_DIR (as the test runner does with every file under test/) it does nothing.
 */
import { Broker } from "../../../src/broker/broker.js";
import { command } from "../../../src/broker/commands.js";
import { Logger } from "../../../src/lib/logger.js";
import { DefinitionsLog } from "../../../src/store/definitions-log.js";
import { nodeIo } from "../../../src/store/io.js";

const dir = process.env["WARREN_COMPACTION_DIR"];
if (dir !== undefined && dir !== "") run(dir);

function run(dataDir: string): void {
  const [where, nth] = (process.env["WARREN_COMPACTION_CRASH"] ?? "").split(":");
  let compactions = 0;
  const io = {
    fdatasyncSync(fd: number): void {
      const crashNow = ++compactions === Number(nth);
      if (crashNow && where === "before-sync") process.kill(process.pid, "SIGKILL");
      nodeIo.fdatasyncSync(fd);
      if (crashNow && where === "after-sync") process.kill(process.pid, "SIGKILL");
    },
  };
  const defs = DefinitionsLog.open({ dataDir, log: () => {}, io });
  const broker = new Broker({ store: null, definitions: defs, log: new Logger("error"), compaction: { factor: 2, minCommands: 40 } });
  broker.boot();
  const ctx = { origin: "amqp" } as const;
  const out = (line: string): void => {
    process.stdout.write(line + "\n");
  };
  const vhost = "/";
  broker.apply(command("exchange.declare", { vhost, name: "x", type: "direct", durable: true, autoDelete: false, internal: false, arguments: {} }), ctx);
  const live: string[] = [...broker.getVhost(vhost).queues.keys()].filter((n) => n.startsWith("keep."));
  let n = live.reduce((m, q) => Math.max(m, Number(q.slice(5)) + 1), 0);
  out("READY");
  const turn = (): void => {
    const declared = `keep.${n++}`;
    broker.apply(command("queue.declare", { vhost, name: declared, durable: true, autoDelete: false, arguments: { "x-max-length": n } }), ctx);
    broker.apply(command("bind", { vhost, source: "x", destination: declared, destinationType: "queue", routingKey: declared, arguments: {} }), ctx);
    let deleted: string | null = null;
    if (live.length > 5 && Math.random() < 0.3) {
      deleted = live.splice(Math.floor(Math.random() * live.length), 1)[0]!;
      out(`d ${deleted}`);
      broker.apply(command("queue.delete", { vhost, name: deleted }), ctx);
    }
    for (let i = 0; i < 5; i++) {
      const tmp = `tmp.${i}`;
      broker.apply(command("queue.declare", { vhost, name: tmp, durable: true, autoDelete: false, arguments: {} }), ctx);
      broker.apply(command("bind", { vhost, source: "x", destination: tmp, destinationType: "queue", routingKey: "t", arguments: {} }), ctx);
      broker.apply(command("queue.delete", { vhost, name: tmp }), ctx);
    }
    broker.syncDefinitions((err) => {
      if (err) return out(`E ${err.message}`);
      out(`C ${declared}`);
      if (deleted !== null) out(`D ${deleted}`);
      live.push(declared);
      setImmediate(turn);
    });
  };
  turn();
}
