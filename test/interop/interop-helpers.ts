/**
 * Shared plumbing for the interop suite: a broker per test file, child
 * processes running pika scripts (test/interop/py/), and small waiting helpers.
 *
 * Owns: `interopBroker()` — wraps test/helpers/broker.ts startBroker(); when the
 * broker is external (WARREN_TEST_URL, i.e. a real RabbitMQ) it gives the test
 * file its own fresh vhost through the management API, so that files which
 * use the tutorials' fixed names ("hello", "task_queue", "logs", ...) can run
 * concurrently against one RabbitMQ without stealing each other's messages,
 * and leftovers (a durable task_queue) never leak into the next run. Against
 * warren every file already has its own in-process broker.
 * Does not own: broker behaviour; nothing here asserts anything.
 * Invariants: every child process started here is killed by `killAllPy()`
 * (call it in `after`), and every wait has a deadline, so a test can fail
 * but never hang.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { startBroker, repoRoot, type TestBroker } from "../helpers/broker.js";

export const PY = "/usr/bin/python3";
export const pyDir = join(repoRoot, "test", "interop", "py");

export interface InteropBroker {
  url: string;
  external: boolean;
  stop(): Promise<void>;
}

/** A broker for one test file; `tag` names the per-file vhost on RabbitMQ. */
export async function interopBroker(tag: string): Promise<InteropBroker> {
  const b: TestBroker = await startBroker();
  if (!b.external) return { url: b.url, external: false, stop: () => b.stop() };
  const isolated = await isolatedVhost(b.url, tag).catch((e: unknown) => {
    process.stderr.write(`interop: no per-file vhost (${String(e)}); sharing ${b.url}\n`);
    return undefined;
  });
  if (!isolated) return { url: b.url, external: true, stop: () => b.stop() };
  return {
    url: isolated.url,
    external: true,
    stop: async () => {
      await isolated.drop();
      await b.stop();
    },
  };
}

async function isolatedVhost(amqpUrl: string, tag: string): Promise<{ url: string; drop(): Promise<void> }> {
  const u = new URL(amqpUrl);
  const user = decodeURIComponent(u.username || "guest");
  const pass = decodeURIComponent(u.password || "guest");
  const base = decodeURIComponent(u.pathname.slice(1)) || "default";
  const vhost = `${base}.${tag}.${process.pid}`;
  const mgmt = new URL(process.env.WARREN_TEST_MGMT_URL ?? `http://${u.hostname}:15672`);
  const auth = "Basic " + Buffer.from(`${mgmt.username ? decodeURIComponent(mgmt.username) : user}:${mgmt.password ? decodeURIComponent(mgmt.password) : pass}`).toString("base64");
  const api = async (method: string, path: string, body?: unknown): Promise<void> => {
    const res = await fetch(`${mgmt.protocol}//${mgmt.host}/api${path}`, {
      method,
      headers: { authorization: auth, "content-type": "application/json" },
      body: body === undefined ? null : JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok && res.status !== 404) throw new Error(`${method} ${path}: HTTP ${res.status}`);
  };
  const v = encodeURIComponent(vhost);
  await api("PUT", `/vhosts/${v}`, {});
  await api("PUT", `/permissions/${v}/${encodeURIComponent(user)}`, { configure: ".*", write: ".*", read: ".*" });
  const url = new URL(amqpUrl);
  url.pathname = "/" + v;
  return { url: url.toString(), drop: () => api("DELETE", `/vhosts/${v}`) };
}

// ---------------------------------------------------------------- pika processes

export interface PyResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running pika script: its output so far, and ways to wait on it. */
export class PyProc {
  stdout = "";
  stderr = "";
  readonly exited: Promise<PyResult>;
  private waiters: Array<() => void> = [];

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      this.stdout += d;
      this.wake();
    });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      this.stderr += d;
      this.wake();
    });
    this.exited = new Promise((resolve) => {
      child.once("close", (code, signal) => {
        live.delete(this);
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
        this.wake();
      });
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Stdout lines, with carriage-return overwrites kept as separate pieces. */
  lines(): string[] {
    return this.stdout.split("\n").filter((l) => l.length > 0);
  }

  /** Wait until stdout matches `what` (or `count` times), or fail after `ms`. */
  async waitFor(what: string | RegExp, ms = 5000, count = 1): Promise<void> {
    const deadline = Date.now() + ms;
    const re = typeof what === "string" ? new RegExp(escapeRe(what), "g") : new RegExp(what.source, what.flags.includes("g") ? what.flags : what.flags + "g");
    for (;;) {
      if ((this.stdout.match(re)?.length ?? 0) >= count) return;
      if (!this.running) throw new Error(`${this.name} exited before printing ${String(what)}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: timed out waiting for ${String(what)} x${count}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Kill (SIGTERM unless told) and wait for the exit. */
  async kill(signal: NodeJS.Signals = "SIGTERM"): Promise<PyResult> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }

  /** Wait for a normal exit, killing the process if it overstays `ms`. */
  async finish(ms = 10_000): Promise<PyResult> {
    const t = setTimeout(() => this.child.kill("SIGKILL"), ms);
    try {
      return await this.exited;
    } finally {
      clearTimeout(t);
    }
  }
}

const live = new Set<PyProc>();

/** Start test/interop/py/<script> with the broker URL as argv[1]. */
export function spawnPy(script: string, url: string, args: string[] = [], opts: { env?: Record<string, string>; input?: string } = {}): PyProc {
  const child = spawn(PY, ["-u", join(pyDir, script), url, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, PYTHONUNBUFFERED: "1", PYTHONIOENCODING: "utf-8", ...(opts.env ?? {}) },
  });
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  const p = new PyProc(script, child);
  live.add(p);
  return p;
}

/** Run a script to completion (bounded by `ms`). */
export function runPy(script: string, url: string, args: string[] = [], opts: { env?: Record<string, string>; input?: string; ms?: number } = {}): Promise<PyResult> {
  return spawnPy(script, url, args, opts).finish(opts.ms ?? 10_000);
}

/** Run a script and insist it exits 0; returns its stdout. */
export async function runPyOk(script: string, url: string, args: string[] = [], opts: { env?: Record<string, string>; input?: string; ms?: number } = {}): Promise<string> {
  const r = await runPy(script, url, args, opts);
  if (r.code !== 0) throw new Error(`${script} ${args.join(" ")} exited ${r.code ?? r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r.stdout;
}

/**
 * Run another client's process (rabbitmq-c tools, the JVM, an inline script) without blocking
 * the event loop -- the broker may live in this process. Killed after `ms`; resolves with its
 * exit code and output, rejects only when the command cannot be started (`hint` says which
 * Debian package provides it).
 */
export function runProcess(cmd: string, args: string[], ms = 10_000, hint = ""): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => p.kill("SIGKILL"), ms);
    p.once("error", (e) => {
      clearTimeout(t);
      reject(new Error(`${cmd}: ${e.message}${hint ? ` (${hint})` : ""}`));
    });
    p.once("close", (code) => {
      clearTimeout(t);
      resolve({ code, out, err });
    });
  });
}

/** Kill every pika process still running (use in `after`). */
export async function killAllPy(): Promise<void> {
  await Promise.all([...live].map((p) => p.kill("SIGKILL")));
}

// ---------------------------------------------------------------- waiting

/** Collects values pushed by a consumer callback; wait for a count with a deadline. */
export class Inbox<T> {
  readonly items: T[] = [];
  private waiters: Array<() => void> = [];

  push = (v: T): void => {
    this.items.push(v);
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  };

  async waitFor(n: number, ms = 5000): Promise<T[]> {
    const deadline = Date.now() + ms;
    while (this.items.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out: ${this.items.length}/${n} items: ${JSON.stringify(this.items)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.items;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A unique-enough name for queues/exchanges the tutorials do not name. */
export function uniq(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}

/** Recursive Fibonacci, exactly as the RPC tutorial's server computes it. */
export function fib(n: number): number {
  return n === 0 ? 0 : n === 1 ? 1 : fib(n - 1) + fib(n - 2);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
