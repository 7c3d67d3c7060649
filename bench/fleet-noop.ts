/**
 * BENCH ONLY: the control-plane bench's stand-in for exec.ts. It runs nothing: every command
 * "succeeds" at once with empty output, so the bench measures Fleet's dispatch → delivery →
 * result → stored path rather than process spawning. It lives in bench/ (not in the package's
 * dist/src) and reaches an Agent only through AgentOptions.executor, which `warren agent` never
 * sets; test/fleet/operator.test.ts checks that a normally started agent really runs commands.
 */
import type { ExecSpec, Running } from "../src/fleet/exec.js";

export const BENCH_NOOP_LABEL = "bench no-op agent (nothing spawned)";

export function benchNoop(_spec: ExecSpec): Running {
  return { pid: undefined, cancel() {}, resumeOutput() {}, done: Promise.resolve({ status: "ok", exitCode: 0, signal: null, stdout: "", stderr: "", truncated: false }) };
}
