// Regenerates docs/screenshots/*.png: a throwaway warren (temp data dir, ports chosen by the
// OS) with two Fleet agents, a work queue with a producer and two workers (the RabbitMQ
// tutorial's), then the main UI pages in Debian's chromium through puppeteer-core.
// Run through scripts/ui-screenshots.sh (it builds first). Takes about 1.5 minutes: the charts
// need a minute of 5-second samples.
import { mkdtempSync, rmSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import amqp from "amqplib";
import puppeteer from "puppeteer-core";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "docs", "screenshots");
const chromium = process.env.WARREN_CHROMIUM ?? "/usr/bin/chromium";
if (!existsSync(chromium)) throw new Error(`no browser at ${chromium} (apt-get install chromium)`);
mkdirSync(out, { recursive: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dataDir = mkdtempSync(join(tmpdir(), "warren-shots-"));
const { startWarren } = await import(join(root, "dist/src/main/warren.js"));
const w = await startWarren({ port: 0, host: "127.0.0.1", mgmtPort: 0, dataDir, logLevel: "silent", fleet: true });
const amqpUrl = `amqp://guest:guest@127.0.0.1:${w.amqpPort}`;
const base = `http://127.0.0.1:${w.mgmtPort}`;
const children = [];
const cleanup = [];
try {
  while (!existsSync(join(dataDir, "fleet", "operator.pub"))) await sleep(100);
  for (const name of ["web1", "web2"]) {
    const c = spawn(process.execPath, [join(root, "dist/src/fleet/bin.js"), "agent", "--name", name, "--groups", "web", "--heartbeat", "2s", "--data-dir", dataDir], { stdio: "ignore" });
    children.push(c);
  }
  // the work-queue tutorial: one producer, two workers with prefetch 1
  const conn = await amqp.connect(amqpUrl, { clientProperties: { connection_name: "tutorial producer" } });
  cleanup.push(() => conn.close().catch(() => {}));
  const ch = await conn.createChannel();
  await ch.assertQueue("task_queue", { durable: true });
  await ch.assertQueue("orders", { durable: true, arguments: { "x-message-ttl": 3600000, "x-dead-letter-exchange": "dlx", "x-max-length": 10000 } });
  await ch.assertExchange("dlx", "fanout", { durable: true });
  for (let i = 0; i < 3; i++) ch.sendToQueue("orders", Buffer.from(JSON.stringify({ order: 1000 + i, item: "widget" })), { contentType: "application/json", persistent: true });
  for (const n of [1, 2]) {
    const wc = await amqp.connect(amqpUrl, { clientProperties: { connection_name: `worker ${n}` } });
    cleanup.push(() => wc.close().catch(() => {}));
    const wch = await wc.createChannel();
    await wch.prefetch(1);
    await wch.consume("task_queue", (m) => setTimeout(() => wch.ack(m), 15 * n));
  }
  let i = 0;
  const producer = setInterval(() => {
    for (let k = 0; k < 4; k++) ch.sendToQueue("task_queue", Buffer.from(`task ${i++}`), { persistent: true });
  }, 100);
  cleanup.unshift(() => clearInterval(producer));

  const browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
  cleanup.unshift(() => browser.close());
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 860 });
  await page.goto(`${base}/`);
  await page.evaluate(() => sessionStorage.setItem("warren.window", "60"));
  await page.type("input[name=username]", "guest");
  await page.type("input[name=password]", "guest");
  await page.click("form button[type=submit]");
  await page.waitForSelector("#nav a");
  const r = await fetch(`${base}/api/fleet/tasks`, {
    method: "POST",
    headers: { authorization: `Basic ${Buffer.from("guest:guest").toString("base64")}`, "content-type": "application/json" },
    body: JSON.stringify({ command: "df -h /", group: "web" }),
  });
  const task = await r.json();
  // monitoring: the example templates (examples/monitoring), applied as `warren template apply` does
  const files = ["linux-base.yaml", "web.yaml"].map((f) => ({ file: f, source: readFileSync(join(root, "examples", "monitoring", f), "utf8") }));
  await fetch(`${base}/api/fleet/templates/apply`, {
    method: "POST",
    headers: { authorization: `Basic ${Buffer.from("guest:guest").toString("base64")}`, "content-type": "application/json" },
    body: JSON.stringify({ files }),
  });
  console.log("letting the charts fill for 65 s…");
  await sleep(65_000);
  const shot = async (hash, file, { full = false, wait = "main h1" } = {}) => {
    await page.evaluate((h) => {
      location.hash = h;
    }, hash);
    await page.waitForSelector(wait);
    await sleep(1200);
    await page.screenshot({ path: join(out, file), fullPage: full });
    console.log(file);
  };
  await shot("#/", "overview.png", { full: true, wait: ".card" });
  await shot("#/queues", "queues.png", { wait: "main table td a" });
  await shot("#/queues/%2F/task_queue", "queue.png", { full: true, wait: "figure.chart" });
  await shot("#/connections", "connections.png", { wait: "main table td a" });
  await shot("#/exchanges/%2F/amq.direct", "exchange.png", { wait: "table.kv" });
  await shot("#/users/guest", "user.png", { wait: "main table td a" });
  await shot("#/fleet", "fleet-hosts.png", { wait: "main table td" });
  await shot(`#/fleet/tasks/${task.id}`, "fleet-task.png", { full: true, wait: "pre.stdout" });
  await shot("#/fleet/hosts/web1", "fleet-host-metrics.png", { full: true, wait: "figure.chart svg path" });
  await shot("#/fleet/alerts", "fleet-alerts.png", { wait: "main table" });
  await page.setViewport({ width: 390, height: 844, isMobile: true, deviceScaleFactor: 1 });
  await shot("#/queues", "phone-queues.png", { wait: "main table td a" });
} finally {
  for (const f of cleanup) await f();
  for (const c of children) c.kill("SIGTERM");
  await w.close();
  rmSync(dataDir, { recursive: true, force: true });
}
