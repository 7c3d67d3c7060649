/**
 * Fleet's message formats: what the collector/operator sends to agents (signed
 * commands and cancels), what agents send back (results, progress events,
 * presence), and the per-host status vocabulary. Types and tiny helpers only.
 *
 * Invariants: a command names exactly one target (a host or a group) and one
 * nonce; an agent reports at most one final status per nonce. FINAL statuses
 * never change once stored (the collector keeps the first one).
 */
import type { ConfigPayload } from "./monitor/protocol.js";
import type { PushSpec } from "./push.js";

export const FLEET_VERSION = "0.1.0";

export type HostStatus =
  | "pending" // waiting for its --batch turn, not yet sent
  | "queued" // sent to the host's queue, not yet started
  | "running"
  | "ok"
  | "failed" // ran, non-zero exit (or could not be spawned)
  | "timeout" // killed (whole process group) after --timeout
  | "expired" // TTL passed before the host took it (dead-lettered or swept)
  | "cancelled"
  | "rejected" // refused by the agent: unsigned, forged, expired, replayed, not for it
  | "interrupted" // the agent died/stopped while it ran; outcome unknown, never re-run
  | "unroutable" // no queue for that host (never enrolled / removed)
  | "lost"; // the agent vanished while running and never came back before the deadline

export const FINAL: ReadonlySet<HostStatus> = new Set<HostStatus>(["ok", "failed", "timeout", "expired", "cancelled", "rejected", "interrupted", "unroutable", "lost"]);
export const isFinal = (s: string): boolean => FINAL.has(s as HostStatus);

/** A group target lists the members it was signed for (a later member must not run it). */
export type Target = { host: string } | { group: string; hosts: string[] };

/** Signed by the operator key; carried inside a SignedEnvelope. */
export interface CommandPayload {
  v: 1;
  kind: "command";
  task: number;
  nonce: string;
  target: Target;
  /** shell command line (run with /bin/sh -c), or argv (no shell) */
  shell?: string;
  argv?: string[];
  /** `warren push`: a file to write instead of a command to run (push.ts); no shell/argv then */
  push?: PushSpec;
  timeoutMs: number;
  maxOutput?: number;
  issuedAt: number;
  /** ms since epoch; the agent refuses it after this */
  exp: number;
  user: string;
}

export interface CancelPayload {
  v: 1;
  kind: "cancel";
  task: number;
  nonce: string;
  target: Target;
  issuedAt: number;
  exp: number;
  user: string;
}

/** A signed request to the collector (submit, cancel, host registration). */
export interface RequestPayload {
  v: 1;
  kind: "request";
  op: string;
  nonce: string;
  issuedAt: number;
  exp: number;
  user: string;
  body: Record<string, unknown>;
}

export type SignedPayload = CommandPayload | CancelPayload | RequestPayload | ConfigPayload;

export interface ResultMessage {
  kind: "result";
  task: number | null;
  host: string;
  nonce: string | null;
  status: HostStatus;
  exitCode?: number | null;
  signal?: string | null;
  stdout?: string;
  stderr?: string;
  truncated?: boolean;
  error?: string;
  startedAt?: number | null;
  finishedAt: number;
}

export interface StartedEvent {
  kind: "started";
  task: number;
  host: string;
  nonce: string;
  at: number;
}
export interface OutputEvent {
  kind: "output";
  task: number;
  host: string;
  nonce: string;
  stream: "stdout" | "stderr";
  data: string;
}
export type AgentEvent = StartedEvent | OutputEvent;

export interface HostFacts {
  hostname: string;
  os: string;
  arch: string;
  release: string;
  /** the distribution's ID and VERSION_ID from /etc/os-release ("debian", "12"), when there is one */
  distro?: string;
  distroVersion?: string;
  addresses: string[];
  agentVersion: string;
  concurrency: number;
}

export interface PresenceMessage {
  kind: "presence";
  host: string;
  groups: string[];
  state: "online" | "heartbeat" | "offline";
  heartbeatMs: number;
  facts: HostFacts;
  at: number;
  /** the monitoring template rev the agent runs (null: none yet) */
  rev?: string | null;
}
