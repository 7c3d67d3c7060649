/**
 * amqps: warren's TLS listener (`--tls-port/--tls-cert/--tls-key`, RabbitMQ's listeners.ssl)
 * with real clients -- amqplib and pika -- over real TLS, certificates made by openssl for the
 * test; client-certificate verification (`--tls-ca --tls-verify-peer`, RabbitMQ's
 * ssl_options.verify = verify_peer, fail_if_no_peer_cert = true); and clear start-up errors.
 * warren only (the RabbitMQ under CI has no TLS listener configured).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import amqp from "amqplib";
import { repoRoot, tempDir, startBrokerProcess, type BrokerProcess } from "../helpers/broker.js";
import { PY, runProcess } from "./interop-helpers.js";

const external = !!process.env.WARREN_TEST_URL;
let dir = "";
const file = (n: string) => join(dir, n);
const dataDirs: string[] = [];
const dataDir = (): string => {
  const d = tempDir("warren-tls-data-");
  dataDirs.push(d);
  return d;
};

function openssl(args: string[]): void {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  assert.equal(r.error, undefined, `openssl not runnable: ${r.error?.message}`);
  assert.equal(r.status, 0, `openssl ${args.join(" ")}:\n${r.stderr}`);
}

/** A CA, a server certificate for localhost/127.0.0.1 and a client certificate, all signed by the CA. */
before(() => {
  if (external) return;
  dir = tempDir("warren-tls-");
  writeFileSync(file("server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=warren test CA"]);
  for (const who of ["server", "client"]) {
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${who}.key`, "-out", `${who}.csr`, "-subj", `/CN=${who === "server" ? "localhost" : "test-client"}`]);
    openssl(["x509", "-req", "-in", `${who}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${who}.pem`, "-days", "2", ...(who === "server" ? ["-extfile", "server.ext"] : [])]);
  }
  // a CA nobody signed anything with: its trust must not help
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.pem", "-days", "2", "-subj", "/CN=other CA"]);
});
after(() => {
  for (const d of [dir, ...dataDirs]) if (d) rmSync(d, { recursive: true, force: true });
});

async function tlsBroker(extra: string[] = []): Promise<BrokerProcess & { tlsPort: number }> {
  const b = await startBrokerProcess(dataDir(), ["--no-fleet", "--tls-port", "0", "--tls-cert", file("server.pem"), "--tls-key", file("server.key"), ...extra]);
  const m = /amqps:\/\/[^\s]*:(\d+)/.exec(b.stderr());
  assert.ok(m, `no amqps listener in the start-up line:\n${b.stderr()}`);
  return Object.assign(b, { tlsPort: Number(m[1]) });
}

test("amqplib and pika over amqps; the plain port still works; untrusted server certificate refused", async (t) => {
  if (external) return t.skip("warren only");
  const b = await tlsBroker();
  try {
    const ca = readFileSync(file("ca.pem"));
    const c = await amqp.connect(`amqps://guest:guest@localhost:${b.tlsPort}`, { ca: [ca] });
    const ch = await c.createChannel();
    const q = (await ch.assertQueue("tls-q", { durable: false })).queue;
    ch.sendToQueue(q, Buffer.from("over tls"));
    await ch.checkQueue(q); // a round trip: the publish has been handled
    const m = await ch.get(q, { noAck: true });
    assert.ok(m && m.content.toString() === "over tls");
    await c.close();

    const py = `
import pika, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
c = pika.BlockingConnection(pika.ConnectionParameters('localhost', int(sys.argv[1]), ssl_options=pika.SSLOptions(ctx, 'localhost')))
ch = c.channel()
q = ch.queue_declare('', exclusive=True).method.queue
ch.basic_publish('', q, b'pika over tls')
print(ch.basic_get(q, auto_ack=True)[2].decode())
c.close()
`;
    const r = await runProcess(PY, ["-c", py, String(b.tlsPort), file("ca.pem")], 20_000);
    assert.equal(r.code, 0, `pika over TLS failed:\n${r.err}`);
    assert.equal(r.out.trim(), "pika over tls");

    // the plain listener is unaffected
    await (await amqp.connect(b.url)).close();
    // /api/overview lists the TLS listener the way RabbitMQ does (protocol "amqp/ssl")
    const u = new URL(b.mgmtUrl!);
    const res = await fetch(`http://${u.host}/api/overview`, { headers: { authorization: "Basic " + Buffer.from("guest:guest").toString("base64") } });
    const listeners = ((await res.json()) as { listeners: { protocol: string; port: number }[] }).listeners;
    assert.deepEqual(
      listeners.filter((l) => l.protocol.startsWith("amqp")).map((l) => [l.protocol, l.port]),
      [
        ["amqp", b.port],
        ["amqp/ssl", b.tlsPort],
      ],
    );
    // a client that does not trust the server's CA refuses the connection
    await assert.rejects(amqp.connect(`amqps://guest:guest@localhost:${b.tlsPort}`, { ca: [readFileSync(file("other.pem"))] }), /certificate/i);
    assert.equal(b.child.exitCode, null, "the broker survived the failed handshake");
  } finally {
    await b.stop();
  }
});

test("--tls-verify-peer: a client certificate signed by --tls-ca is required", async (t) => {
  if (external) return t.skip("warren only");
  const b = await tlsBroker(["--tls-ca", file("ca.pem"), "--tls-verify-peer"]);
  try {
    const ca = readFileSync(file("ca.pem"));
    await assert.rejects(async () => {
      const c = await amqp.connect(`amqps://guest:guest@localhost:${b.tlsPort}`, { ca: [ca] });
      await c.close();
    }, "no client certificate: refused");
    const c = await amqp.connect(`amqps://guest:guest@localhost:${b.tlsPort}`, { ca: [ca], cert: readFileSync(file("client.pem")), key: readFileSync(file("client.key")) });
    const ch = await c.createChannel();
    await ch.assertQueue("", { exclusive: true });
    await c.close();
    assert.equal(b.child.exitCode, null);
  } finally {
    await b.stop();
  }
});

// Fleet's agents, collector and CLI all connect through src/fleet/conn.ts: over amqps they trust
// WARREN_CA_FILE and present WARREN_CLIENT_CERT/KEY when the broker verifies clients.
test("Fleet's connection plumbing over amqps with a private CA and a client certificate", async (t) => {
  if (external) return t.skip("warren only");
  const b = await tlsBroker(["--tls-ca", file("ca.pem"), "--tls-verify-peer"]);
  const saved = { ...process.env };
  try {
    const { connect } = await import("../../src/fleet/conn.js");
    const url = `amqps://guest:guest@localhost:${b.tlsPort}`;
    process.env["WARREN_CA_FILE"] = file("ca.pem");
    await assert.rejects(connect(url, "fleet-tls-test"), "no client certificate: refused");
    process.env["WARREN_CLIENT_CERT"] = file("client.pem");
    process.env["WARREN_CLIENT_KEY"] = file("client.key");
    const c = await connect(url, "fleet-tls-test");
    const ch = await c.createChannel();
    await ch.assertQueue("", { exclusive: true });
    await c.close();
    process.env["WARREN_CA_FILE"] = file("no-such-ca.pem");
    await assert.rejects(connect(url, "fleet-tls-test"), /cannot read WARREN_CA_FILE/);
  } finally {
    for (const k of ["WARREN_CA_FILE", "WARREN_CLIENT_CERT", "WARREN_CLIENT_KEY"]) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    await b.stop();
  }
});

test("TLS misconfiguration fails the start with a clear message", async (t) => {
  if (external) return t.skip("warren only");
  const run = (args: string[]) =>
    spawnSync(process.execPath, [join(repoRoot, "bin", "warren.js"), "server", "--port", "0", "--mgmt-port", "off", "--prometheus-port", "off", "--no-fleet", "--data-dir", dataDir(), ...args], {
      encoding: "utf8",
      timeout: 20_000,
    });
  let r = run(["--tls-port", "0"]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--tls-port needs --tls-cert and --tls-key/);
  r = run(["--tls-port", "0", "--tls-cert", file("server.pem"), "--tls-key", file("missing.key")]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot read TLS key .*missing\.key/);
  r = run(["--tls-port", "0", "--tls-cert", file("server.pem"), "--tls-key", file("client.key")]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /unusable TLS certificate\/key/);
  r = run(["--tls-port", "0", "--tls-cert", file("server.pem"), "--tls-key", file("server.key"), "--tls-verify-peer"]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--tls-verify-peer needs --tls-ca/);
});
