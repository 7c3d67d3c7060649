/**
 * The npm package as a user gets it: `npm pack` this checkout, `npm install` the tarball into a
 * fresh TypeScript project, compile a node:test suite against its typings (strict; no TS7016:
 * the .d.ts files ship) and run it — a broker per test on port 0 with nothing persisted.
 *
 * Also pins what a broker-only install must not do: install or compile better-sqlite3 (Fleet's
 * native dependency is an optional peer, loaded only when Fleet runs).
 *
 * Offline-safe: dependencies come from the npm cache first (`--prefer-offline`; `.ci/run`'s own
 * `npm install` fills it), every step is bounded in time.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot, tempDir } from "../helpers/broker.js";

const work = tempDir("warren-pack-");
after(() => rmSync(work, { recursive: true, force: true }));

function run(cmd: string, args: string[], cwd: string, timeout = 180_000): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    // NODE_TEST_CONTEXT would make a nested `node --test` report to this runner instead of stdout
    const { NODE_TEST_CONTEXT: _ctx, ...env } = process.env;
    execFile(cmd, args, { cwd, timeout, maxBuffer: 16 * 1024 * 1024, env: { ...env, npm_config_update_notifier: "false" } }, (e, out, err) => {
      resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err });
    });
  });
}

const CONSUMER_TEST = `import { test } from "node:test";
import assert from "node:assert/strict";
import amqp from "amqplib";
import { startWarren, type Warren, type WarrenOptions } from "warren";

const opts: WarrenOptions = { port: 0, dataDir: null };

async function roundTrip(w: Warren): Promise<string> {
  const conn = await amqp.connect(w.url);
  const ch = await conn.createChannel();
  const q = await ch.assertQueue("", { exclusive: true });
  ch.sendToQueue(q.queue, Buffer.from("hello"));
  const got = await new Promise<string>((resolve) => {
    void ch.consume(q.queue, (m: { content: Buffer } | null) => m && resolve(m.content.toString()), { noAck: true });
  });
  await conn.close();
  return got;
}

for (const name of ["first", "second"]) {
  test(\`a broker of its own (\${name})\`, async (t) => {
    const t0 = performance.now();
    const w: Warren = await startWarren(opts);
    t.diagnostic(\`start-ms \${(performance.now() - t0).toFixed(1)}\`);
    try {
      assert.equal(w.amqpHost, "127.0.0.1");
      assert.equal(w.mgmtPort, null);
      assert.match(w.url, /^amqp:\\/\\/guest:guest@127\\.0\\.0\\.1:\\d+$/);
      assert.equal(await roundTrip(w), "hello");
    } finally {
      await w.close();
    }
  });
}
`;

test("npm pack, install into a fresh TypeScript project, compile against the .d.ts, run a broker per test", async (t) => {
  const pack = await run("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", work], repoRoot);
  assert.equal(pack.code, 0, pack.err);
  const tarball = join(work, pack.out.trim().split("\n").pop()!);
  assert.ok(existsSync(tarball), tarball);

  const proj = join(work, "consumer");
  mkdirSync(join(proj, "src"), { recursive: true });
  writeFileSync(join(proj, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }, null, 2));
  writeFileSync(
    join(proj, "tsconfig.json"),
    JSON.stringify(
      {
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          outDir: "dist",
          rootDir: "src",
          // the consumer brings @types/node (from this checkout, to stay offline)
          typeRoots: [join(repoRoot, "node_modules", "@types")],
          types: ["node"],
        },
        include: ["src"],
      },
      null,
      2,
    ),
  );
  writeFileSync(join(proj, "src", "amqplib.d.ts"), 'declare module "amqplib";\n');
  writeFileSync(join(proj, "src", "broker.test.ts"), CONSUMER_TEST);

  const t0 = Date.now();
  const install = await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel", "error", tarball], proj);
  assert.equal(install.code, 0, install.err);
  t.diagnostic(`npm install of the tarball: ${Date.now() - t0} ms`);
  const installed = readdirSync(join(proj, "node_modules"));
  assert.ok(installed.includes("warren") && installed.includes("amqplib"), installed.join(" "));
  // a broker-only install compiles nothing: no native module, no build tooling
  for (const native of ["better-sqlite3", "prebuild-install", "node-gyp", "bindings"]) assert.ok(!installed.includes(native), `${native} was installed`);
  assert.ok(existsSync(join(proj, "node_modules", "warren", "dist", "src", "index.d.ts")), "typings shipped");

  const tsc = await run(process.execPath, [join(repoRoot, "node_modules", "typescript", "bin", "tsc"), "-p", proj], proj);
  assert.equal(tsc.code, 0, tsc.out + tsc.err);

  const suite = await run(process.execPath, ["--test", join(proj, "dist", "broker.test.js")], proj, 60_000);
  assert.equal(suite.code, 0, suite.out + suite.err);
  assert.match(suite.out, /# pass 2/);
  for (const m of suite.out.matchAll(/start-ms ([\d.]+)/g)) t.diagnostic(`startWarren in the consumer: ${m[1]} ms`);
});
