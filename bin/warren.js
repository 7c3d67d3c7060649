#!/usr/bin/env node
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
