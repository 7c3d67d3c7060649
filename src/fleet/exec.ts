/**
 * Run one command on the agent's host, contained: its own process group
 * (detached), a timeout that kills the whole group (SIGTERM, then SIGKILL),
 * capped stdout/stderr with a truncated flag, and a kill() for cancel.
 *
 * It does not know about AMQP or signatures. Invariant: `done` resolves exactly
 * once, and by then no process of a timed-out or cancelled group is left.
 */
import { spawn } from "node:child_process";
import { StringDecoder } from "node:string_decoder";

export interface ExecSpec {
  shell?: string;
  argv?: string[];
  timeoutMs: number;
  maxOutput: number;
  /** extra environment (the agent sets FLEET_HOST, FLEET_TASK) */
  env?: Record<string, string>;
  /**
   * Every piece of output as it arrives, beyond maxOutput too (that cap is the result's). Return
   * false to stop reading the command's pipes until `resumeOutput()`: the command then blocks on
   * a full pipe, which is how a slow broker holds back a command printing 16 MB.
   */
  onOutput?: (stream: "stdout" | "stderr", data: string) => boolean | undefined;
}

export interface ExecOutcome {
  status: "ok" | "failed" | "timeout" | "cancelled";
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  error?: string;
}

export interface Running {
  pid: number | undefined;
  done: Promise<ExecOutcome>;
  cancel(): void;
  /** read the pipes again after onOutput returned false */
  resumeOutput(): void;
}

const KILL_GRACE_MS = 2000;
/** After the command exits, how long we keep reading pipes a stray background child may hold open. */
const DRAIN_MS = 500;

function killGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, sig); // negative pid: the whole process group
  } catch {
    /* already gone */
  }
}

export function execute(spec: ExecSpec): Running {
  const file = spec.argv ? spec.argv[0] : "/bin/sh";
  const args = spec.argv ? spec.argv.slice(1) : ["-c", spec.shell ?? ""];
  if (!file)
    return { pid: undefined, cancel() {}, resumeOutput() {}, done: Promise.resolve({ status: "failed", exitCode: null, signal: null, stdout: "", stderr: "", truncated: false, error: "empty argv" }) };
  const child = spawn(file, args, { detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...spec.env } });
  const out = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  let used = 0;
  let truncated = false;
  let stopReason: "timeout" | "cancelled" | null = null;
  let paused = false;
  const pause = (): void => {
    paused = true;
    child.stdout?.pause();
    child.stderr?.pause();
  };
  const capture = (stream: "stdout" | "stderr") => {
    const decoder = new StringDecoder("utf8"); // a character split across two reads stays whole
    return (d: Buffer): void => {
      const room = spec.maxOutput - used;
      if (room <= 0)
        truncated = true; // past the cap: keep draining so the command never blocks on a full pipe
      else {
        const part = d.length > room ? d.subarray(0, room) : d;
        if (part.length < d.length) truncated = true;
        used += part.length;
        out[stream].push(part);
      }
      if (spec.onOutput && spec.onOutput(stream, decoder.write(d)) === false) pause();
    };
  };
  child.stdout!.on("data", capture("stdout"));
  child.stderr!.on("data", capture("stderr"));

  let killTimer: NodeJS.Timeout | undefined;
  const stop = (why: "timeout" | "cancelled"): void => {
    if (stopReason) return;
    stopReason = why;
    killGroup(child.pid, "SIGTERM");
    killTimer = setTimeout(() => killGroup(child.pid, "SIGKILL"), KILL_GRACE_MS);
  };
  const timer = setTimeout(() => stop("timeout"), spec.timeoutMs);

  const done = new Promise<ExecOutcome>((resolve) => {
    let spawnError: string | undefined;
    child.once("error", (e) => {
      spawnError = e.message;
    });
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer);
      // The leader is gone; if we were stopping the group, make sure stragglers go too.
      if (stopReason) killGroup(child.pid, "SIGKILL");
      if (killTimer) clearTimeout(killTimer);
      const status = stopReason ?? (spawnError ? "failed" : code === 0 ? "ok" : "failed");
      const r: ExecOutcome = {
        status,
        exitCode: code,
        signal,
        stdout: Buffer.concat(out.stdout).toString(),
        stderr: Buffer.concat(out.stderr).toString(),
        truncated,
      };
      if (spawnError) r.error = spawnError;
      else if (stopReason === "timeout") r.error = `timed out after ${spec.timeoutMs} ms; process group killed`;
      resolve(r);
    };
    child.once("exit", (code, signal) => {
      // Wait for the pipes to close, but not forever: a backgrounded grandchild may keep them open.
      let closed = false;
      child.once("close", () => {
        if (!closed) {
          closed = true;
          finish(code, signal);
        }
      });
      // (While onOutput holds the pipes paused, what is left in them is output waiting for the
      // broker, not a stray child: wait on.)
      const giveUp = (): void => {
        if (closed) return;
        if (paused) return void setTimeout(giveUp, DRAIN_MS);
        closed = true;
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(code, signal);
      };
      setTimeout(giveUp, DRAIN_MS);
    });
    child.once("error", () => {
      if (child.pid === undefined) finish(null, null); // never spawned: no exit event follows
    });
  });
  const resumeOutput = (): void => {
    paused = false;
    child.stdout?.resume();
    child.stderr?.resume();
  };
  return { pid: child.pid, done, cancel: () => stop("cancelled"), resumeOutput };
}
