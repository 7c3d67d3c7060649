/**
 * One version story and a helpful EADDRINUSE, through the real `warren` command:
 * `warren --version`, the start-up banner, the management API (product_version is warren's,
 * rabbitmq_version the RabbitMQ it emulates) and `warren ctl status` all say the same; a port
 * that is taken names the option and environment variable that choose another.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { repoRoot, startBrokerProcess, tempDir } from "../helpers/broker.js";

const pkgVersion = (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string }).version;
const ONE_STORY = `warren ${pkgVersion} (RabbitMQ 3.10.8 compatible)`;

function warren(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(repoRoot, "bin", "warren.js"), ...args], { timeout: 30_000, env: { ...process.env, ...env } }, (err, out, errOut) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out, err: errOut });
    });
  });
}

test("--version, the banner, the API and ctl status tell one version story", async () => {
  assert.equal((await warren(["--version"])).out.trim(), ONE_STORY);
  const dir = tempDir();
  const b = await startBrokerProcess(dir, ["--no-fleet"]);
  try {
    assert.ok(b.stderr().includes(`${ONE_STORY} listening amqp://`), b.stderr());
    const r = await fetch(`http://127.0.0.1:${b.mgmtPort}/api/overview`, { headers: { authorization: "Basic " + Buffer.from("guest:guest").toString("base64") } });
    const ov = (await r.json()) as Record<string, unknown>;
    assert.equal(ov["product_name"], "warren");
    assert.equal(ov["product_version"], pkgVersion);
    assert.equal(ov["rabbitmq_version"], "3.10.8");
    const st = await warren(["ctl", "--mgmt-url", b.mgmtUrl!, "status"]);
    assert.equal(st.code, 0, st.err);
    assert.match(st.out, new RegExp(`^warren version: ${pkgVersion.replace(/\./g, "\\.")}$`, "m"));
    assert.match(st.out, /^RabbitMQ API version: 3\.10\.8$/m);
    const prom = await (await fetch(`http://127.0.0.1:${b.prometheusPort}/metrics`)).text();
    assert.match(prom, new RegExp(`^rabbitmq_build_info\\{rabbitmq_version="3.10.8",.*product_name="warren",product_version="${pkgVersion}"\\} 1$`, "m"));
  } finally {
    await b.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a port in use names the option and environment variable that choose another", async () => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
  const port = (blocker.address() as net.AddressInfo).port;
  const dir = tempDir();
  try {
    const amqpTaken = await warren(["server", "--port", String(port), "--bind", "127.0.0.1", "--mgmt-port", "off", "--prometheus-port", "off", "--no-fleet", "--data-dir", dir]);
    assert.equal(amqpTaken.code, 1);
    assert.match(amqpTaken.err, /EADDRINUSE/);
    assert.match(amqpTaken.err, new RegExp(`Port ${port} is taken .*--port N or WARREN_PORT=N`));
    const promTaken = await warren(["server", "--port", "0", "--bind", "127.0.0.1", "--mgmt-port", "off", "--no-fleet", "--data-dir", dir], { WARREN_PROMETHEUS_PORT: String(port) });
    assert.equal(promTaken.code, 1);
    assert.match(promTaken.err, /--prometheus-port N or WARREN_PROMETHEUS_PORT=N \(or '--prometheus-port off'\)/);
  } finally {
    blocker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
