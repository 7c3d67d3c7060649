/**
 * Attacks on data at rest (issue 11 rows 9 and 15), against `warren server` processes.
 *
 * Row 9: another local user reads the data directory. It used to be 0755 with a 0644
 * definitions.log holding every password's scrypt hash and a single-round salted SHA-256 of
 * it (for RabbitMQ exports), and a 0644 operator.key was used silently. Now the data dir is
 * 0700, files are 0600, the weak hash exists only with --export-rabbit-hashes, and a
 * group/world-readable operator key is refused.
 * Row 15: a corrupt record in a segment used to be skipped with an info line, invisible at
 * --log-level warn. It is now an error-level line and counted (Prometheus
 * warren_store_corrupt_records_total). warren-only: RabbitMQ has neither file layout.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import amqp from "amqplib";
import { startBrokerProcess, tempDir } from "../helpers/broker.js";
import { removeDir } from "../durability/helpers.js";
import { waitFor } from "./helpers.js";

const mode = (p: string): number => statSync(p).mode & 0o777;

test("row 9: the data dir is private, files are 0600, no weak password hash unless asked for", { skip: !!process.env.WARREN_TEST_URL, timeout: 60_000 }, async () => {
  const dir = tempDir("sec-rest-");
  chmodSync(dir, 0o755); // as an older version (or mkdir) left it
  const b = await startBrokerProcess(dir);
  try {
    const r = await fetch(`http://127.0.0.1:${b.mgmtPort}/api/users/alice`, {
      method: "PUT",
      headers: { authorization: "Basic " + Buffer.from("guest:guest").toString("base64"), "content-type": "application/json" },
      body: JSON.stringify({ password: "alice-secret", tags: "" }),
    });
    assert.equal(r.status, 201);
    await waitFor(() => existsSync(join(dir, "fleet", "operator.key")), 15_000, "operator key");
  } finally {
    await b.stop();
  }
  assert.equal(mode(dir), 0o700, "data dir");
  const files = readdirSync(dir)
    .map((f) => join(dir, f))
    .filter((p) => statSync(p).isFile());
  assert.ok(files.some((p) => p.endsWith("definitions.log")));
  for (const p of files) assert.equal(mode(p) & 0o077, 0, `${p} is private`);
  assert.equal(mode(join(dir, "fleet", "operator.key")) & 0o077, 0);
  const defs = readFileSync(join(dir, "definitions.log"), "utf8");
  assert.ok(defs.includes("alice"));
  assert.ok(!defs.includes("exportHash"), "no RabbitMQ-format (salted SHA-256) hash is stored");

  // with --export-rabbit-hashes the weak hash is made (at the next login) for exports to RabbitMQ
  const b2 = await startBrokerProcess(dir, ["--export-rabbit-hashes"]);
  try {
    const c = await amqp.connect(`amqp://alice:alice-secret@127.0.0.1:${b2.port}`).catch((e: Error) => e);
    if (!(c instanceof Error)) await c.close(); // alice has no vhost permission: the login is what counts
  } finally {
    await b2.stop();
  }
  assert.ok(readFileSync(join(dir, "definitions.log"), "utf8").includes("exportHash"));
  removeDir(dir);
});

test("row 9: a group/world-readable operator key is refused loudly", { skip: !!process.env.WARREN_TEST_URL, timeout: 60_000 }, async () => {
  const dir = tempDir("sec-key-");
  let b = await startBrokerProcess(dir);
  const key = join(dir, "fleet", "operator.key");
  await waitFor(() => existsSync(key), 15_000, "operator key");
  await b.stop();
  chmodSync(key, 0o644);
  b = await startBrokerProcess(dir, ["--log-level", "warn"]);
  try {
    await waitFor(() => /fleet collector not started: operator key .* readable by other users .*chmod 600/.test(b.stderr()), 15_000, "the refusal in the log");
  } finally {
    await b.stop();
  }
  removeDir(dir);
});

test("row 15: a corrupt record is reported at error level (seen at --log-level warn) and counted", { skip: !!process.env.WARREN_TEST_URL, timeout: 60_000 }, async () => {
  const dir = tempDir("sec-corrupt-");
  let b = await startBrokerProcess(dir, ["--no-fleet"]);
  const c = await amqp.connect(b.url);
  c.on("error", () => {}); // the broker is killed under it
  const ch = await c.createConfirmChannel();
  ch.on("error", () => {});
  await ch.assertQueue("precious", { durable: true });
  for (let i = 0; i < 20; i++) ch.sendToQueue("precious", Buffer.alloc(500, 0x41 + i), { persistent: true });
  await ch.waitForConfirms();
  await b.kill();
  const segDir = join(dir, "messages");
  const seg = join(
    segDir,
    readdirSync(segDir)
      .filter((n) => n.endsWith(".wseg"))
      .sort()[0]!,
  );
  // damage one byte inside the 10th body ("J" x 500): its CRC no longer matches
  const buf = readFileSync(seg);
  const at = buf.indexOf(Buffer.alloc(500, 0x41 + 9)) + 250;
  assert.ok(at > 250);
  const fd = openSync(seg, "r+");
  const one = Buffer.alloc(1);
  readSync(fd, one, 0, 1, at);
  writeSync(fd, Buffer.from([one[0]! ^ 0xff]), 0, 1, at);
  closeSync(fd);
  b = await startBrokerProcess(dir, ["--no-fleet", "--log-level", "warn"]);
  try {
    assert.match(b.stderr(), /skipped 1 corrupt record\(s\); their messages are lost/);
    const metrics = await (await fetch(`http://127.0.0.1:${b.prometheusPort}/metrics`)).text();
    assert.match(metrics, /^warren_store_corrupt_records_total 1$/m);
  } finally {
    await b.stop();
  }
  removeDir(dir);
});
