#!/usr/bin/env -S node --initial-old-space-size=64
// The flag on the line above is SERVER_NODE_FLAGS (src/main/node-flags.ts): keep the two equal.
// Entry point of the `warren` command; the code lives in dist/ (built by `npm install`).
import { main } from "../dist/src/cli/main.js";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`warren: ${err && err.stack ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
