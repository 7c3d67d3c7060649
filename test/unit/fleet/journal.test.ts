/**
 * The agent's nonce journal (src/fleet/journal.ts), with and without fdatasync: what one
 * instance appended, a reopened one knows (replay protection across restarts), including a
 * result that was stored but never confirmed. Not a RabbitMQ behaviour: Fleet's own.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Journal } from "../../../src/fleet/journal.js";
import type { ResultMessage } from "../../../src/fleet/protocol.js";

for (const sync of [true, false]) {
  test(`journal (${sync ? "fdatasync" : "no fdatasync: the bench's simulated hosts"}): a reopened journal knows every nonce, result and ack, in order`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "warren-journal-"));
    try {
      const file = join(dir, "journal.log");
      const exp = Date.now() + 60_000;
      const j = new Journal(file, sync);
      const result = { v: 1, task: 7, nonce: "n1", host: "h", status: "ok", exitCode: 0 } as unknown as ResultMessage;
      await j.start("n1", 7, exp);
      await j.result("n1", result);
      await j.acked("n1");
      await j.start("n2", 8, exp); // started, its result never written: "interrupted" on restart
      await j.seen("n3", 9, exp);
      await j.close();
      const kinds = readFileSync(file, "utf8")
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { t: string; n: string }).t + ":" + (JSON.parse(l) as { n: string }).n);
      assert.deepEqual(kinds, ["start:n1", "result:n1", "acked:n1", "start:n2", "seen:n3"]);

      const again = new Journal(file, sync);
      assert.deepEqual(again.nonces.get("n1"), { nonce: "n1", task: 7, exp, started: true, acked: true, result });
      assert.deepEqual(again.nonces.get("n2"), { nonce: "n2", task: 8, exp, started: true, acked: false });
      assert.deepEqual(again.nonces.get("n3"), { nonce: "n3", task: 9, exp, started: false, acked: true });
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
