/**
 * Test harness: start a warren broker for a test file.
 *
 * By default the broker runs in-process on port 0 with a fresh temporary data
 * directory. Set WARREN_TEST_URL=amqp://guest:guest@127.0.0.1:5672/%2Fvhost (and
 * optionally WARREN_TEST_MGMT_URL=http://guest:guest@127.0.0.1:15672) to run the
 * same tests against an external broker (a real RabbitMQ) — that is how we check
 * that a test pins down RabbitMQ's behaviour and not our own.
 *
 * startBrokerProcess() runs `bin/warren.js server` as a child process instead,
 * for tests that need to kill -9 or restart it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { SERVER_NODE_FLAGS } from "../../src/main/node-flags.js";

export interface TestBroker {
  /** amqp://guest:guest@127.0.0.1:PORT (vhost "/" unless external) */
  url: string;
  host: string;
  port: number;
  /** http://guest:guest@127.0.0.1:MPORT, or undefined when management is off */
  mgmtUrl: string | undefined;
  dataDir: string;
  external: boolean;
  stop(): Promise<void>;
}

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export function tempDir(prefix = "warren-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface StartOptions {
  /** start the management HTTP API too (port 0) */
  mgmt?: boolean;
  dataDir?: string;
  /** extra server options passed through to startWarren */
  options?: Record<string, unknown>;
}

export async function startBroker(opts: StartOptions = {}): Promise<TestBroker> {
  const ext = process.env.WARREN_TEST_URL;
  if (ext) {
    const u = new URL(ext);
    return {
      url: ext,
      host: u.hostname,
      port: Number(u.port || 5672),
      mgmtUrl: process.env.WARREN_TEST_MGMT_URL,
      dataDir: "",
      external: true,
      stop: async () => {},
    };
  }
  const { startWarren } = await import("../../src/main/warren.js");
  const dataDir = opts.dataDir ?? tempDir();
  const w = await startWarren({
    port: 0,
    host: "127.0.0.1",
    dataDir,
    mgmtPort: opts.mgmt ? 0 : null,
    logLevel: process.env.WARREN_TEST_LOG ? "debug" : "silent",
    ...(opts.options ?? {}),
  });
  const port = w.amqpPort;
  const mgmtUrl = w.mgmtPort != null ? `http://guest:guest@127.0.0.1:${w.mgmtPort}` : undefined;
  return {
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    host: "127.0.0.1",
    port,
    mgmtUrl,
    dataDir,
    external: false,
    stop: async () => {
      await w.close();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface BrokerProcess {
  child: ChildProcess;
  port: number;
  mgmtPort: number | undefined;
  /** the Prometheus listener (`--prometheus-port 0` unless extraArgs turn it off) */
  prometheusPort: number | undefined;
  url: string;
  mgmtUrl: string | undefined;
  dataDir: string;
  stderr(): string;
  /** SIGTERM and wait for exit */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit */
  kill(): Promise<void>;
}

/**
 * Run `warren server --port 0` as a child process and wait for its start-up
 * line (`warren ... listening amqp://HOST:PORT ...`) on stderr.
 */
export async function startBrokerProcess(dataDir: string, extraArgs: string[] = [], env: Record<string, string> = {}): Promise<BrokerProcess> {
  const args = [
    ...SERVER_NODE_FLAGS,
    join(repoRoot, "bin", "warren.js"),
    "server",
    "--port",
    "0",
    "--bind",
    "127.0.0.1",
    "--mgmt-port",
    "0",
    "--prometheus-port",
    "0",
    "--data-dir",
    dataDir,
    ...extraArgs,
  ];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let err = "";
  child.stdout!.on("data", () => {});
  const ready = new Promise<{ port: number; mgmtPort: number | undefined; prometheusPort: number | undefined }>((resolve, reject) => {
    const onData = (d: Buffer) => {
      err += d.toString();
      const m = /listening amqp:\/\/[^\s]*:(\d+)/.exec(err);
      if (m) {
        const mm = /management http:\/\/[^\s]*:(\d+)/.exec(err);
        const pm = /prometheus http:\/\/[^\s]*:(\d+)/.exec(err);
        resolve({ port: Number(m[1]), mgmtPort: mm ? Number(mm[1]) : undefined, prometheusPort: pm ? Number(pm[1]) : undefined });
      }
    };
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`warren exited with ${code} before listening:\n${err}`)));
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const { port, mgmtPort, prometheusPort } = await ready.finally(() => clearTimeout(timer));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    child,
    port,
    mgmtPort,
    prometheusPort,
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    mgmtUrl: mgmtPort ? `http://guest:guest@127.0.0.1:${mgmtPort}` : undefined,
    dataDir,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
    kill: async () => {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}
