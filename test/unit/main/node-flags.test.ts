/**
 * The server's V8 flags (src/main/node-flags.ts) reach every official way of starting it: the
 * `#!` line of bin/warren.js (npx warren, the npm bin link) and `npm start`. V8 takes them only
 * at start-up, so a launcher that drops them silently brings back a full mark-compact every
 * ~30 ms under 64 KiB load (docs/benchmarks.md). The effect itself is measured by the bench.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SERVER_NODE_FLAGS } from "../../../src/main/node-flags.js";
import { repoRoot } from "../../helpers/broker.js";

test("bin/warren.js's #! line carries SERVER_NODE_FLAGS, and the kernel + env -S run it", () => {
  const bin = join(repoRoot, "bin", "warren.js");
  const shebang = readFileSync(bin, "utf8").split("\n")[0]!;
  assert.match(shebang, /^#!\/usr\/bin\/env -S node( |$)/);
  assert.deepEqual(
    shebang
      .replace(/^#!\/usr\/bin\/env -S node ?/, "")
      .split(" ")
      .filter(Boolean),
    [...SERVER_NODE_FLAGS],
  );
  // executed as a program (not `node bin/warren.js`): the #! line itself must work
  const out = execFileSync(bin, ["--version"], { encoding: "utf8" });
  assert.match(out, /^warren \d+\.\d+\.\d+/);
});

test("npm start passes SERVER_NODE_FLAGS to node", () => {
  const start = (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { scripts: { start: string } }).scripts.start;
  assert.match(start, new RegExp(`node ${SERVER_NODE_FLAGS.join(" ")} bin/warren\\.js server`));
});
