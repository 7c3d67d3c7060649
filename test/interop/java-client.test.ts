/**
 * Interop with the RabbitMQ Java client (Debian's librabbitmq-client-java 5.0.0): confirms,
 * get and consume in order, topic routing, direct reply-to RPC, a 404 channel error that
 * leaves the connection open, mandatory returns, consumer cancel notification and
 * transactions. test/interop/java/JavaClientCheck.java does the work and reports one line
 * per feature; it is compiled with javac here (JDK 17 on this machine kind).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../helpers/broker.js";
import { interopBroker, runProcess, uniq, type InteropBroker } from "./interop-helpers.js";

const CLASSPATH = ["/usr/share/java/amqp-client.jar", "/usr/share/java/slf4j-api.jar", "/usr/share/java/slf4j-nop.jar"];
let broker: InteropBroker;
let classes: string;
before(async () => {
  broker = await interopBroker("java");
  classes = mkdtempSync(join(tmpdir(), "warren-java-"));
});
after(async () => {
  await broker?.stop();
  if (classes) rmSync(classes, { recursive: true, force: true });
});

test("RabbitMQ Java client: confirms, consume, topics, direct reply-to, 404, returns, cancel, tx", async () => {
  const src = join(repoRoot, "test", "interop", "java", "JavaClientCheck.java");
  const cp = CLASSPATH.join(":");
  const javac = spawnSync("javac", ["-d", classes, "-cp", cp, src], { encoding: "utf8", timeout: 60_000 });
  assert.equal(javac.error, undefined, `javac not runnable (Debian: default-jdk-headless): ${javac.error?.message}`);
  assert.equal(javac.status, 0, `javac failed (Debian: librabbitmq-client-java):\n${javac.stderr}`);
  // javac touches no broker, so it may block; the client must not (the broker may be in-process)
  const r = await runProcess("java", ["-cp", `${classes}:${cp}`, "JavaClientCheck", broker.url, uniq("j")], 60_000, "Debian package default-jdk-headless");
  assert.equal(r.code, 0, `JavaClientCheck failed:\n${r.out}\n${r.err}`);
  const lines = r.out.trim().split("\n");
  assert.deepEqual(lines, [
    "ok server-properties",
    "ok confirms-get-consume",
    "ok topic-routing",
    "ok direct-reply-to-rpc",
    "ok channel-error-404",
    "ok mandatory-return",
    "ok consumer-cancel-notification",
    "ok transactions",
    "ALL OK",
  ]);
});
