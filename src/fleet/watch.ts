/**
 * Live task events pushed to CLIs (`run --follow/--wait`, `check_task --follow/--wait`), so
 * nobody polls: a CLI sends a signed `watch` request naming its reply queue and a stream id;
 * from then on the collector sends to that queue, with correlation_id = the stream id:
 *   {kind:"output", host, stream, data}     at once, as each agent output event is stored
 *   {kind:"started", host}                  likewise
 *   {kind:"progress", state, counts}        coalesced (at most one per PROGRESS_MS per watcher)
 *   {kind:"done", counts}                   when every host is final; the watcher is then dropped
 * A watcher also goes when its queue is gone (the message comes back unroutable: the CLI
 * exited) or after WATCH_TTL_MS without a renewal; CLIs renew every few seconds, which also
 * re-attaches them after a collector restart. Memory is bounded: MAX_WATCHERS in all, and
 * nothing is buffered per watcher beyond one pending progress timer.
 */
import type { AgentEvent } from "./protocol.js";
import type { FleetService } from "./service.js";

export const PROGRESS_MS = 50;
const WATCH_TTL_MS = 60_000;
const MAX_WATCHERS = 2000;

export type WatchMessage =
  | { kind: "output"; host: string; stream: "stdout" | "stderr"; data: string }
  | { kind: "started"; host: string }
  | { kind: "progress"; state: "active" | "done"; counts: Record<string, number> }
  | { kind: "done"; counts: Record<string, number> };

/** How to reach one watcher: publish `body` to `replyTo` with correlation_id `streamId`. */
export type WatchSend = (replyTo: string, streamId: string, body: WatchMessage) => void;

interface Watcher {
  replyTo: string;
  streamId: string;
  taskId: number;
  expires: number;
  timer: NodeJS.Timeout | undefined;
}

export class TaskWatchers {
  /** by task id, then by reply queue + stream id */
  private byTask = new Map<number, Map<string, Watcher>>();
  private count = 0;
  private sweeper: NodeJS.Timeout;

  constructor(
    private readonly service: FleetService,
    private readonly send: WatchSend,
  ) {
    service.on("task", this.onTask);
    this.sweeper = setInterval(() => this.expire(Date.now()), 5000);
    this.sweeper.unref();
  }

  /** Register (or renew) a watcher; throws when too many are open. */
  watch(taskId: number, replyTo: string, streamId: string): void {
    const key = `${replyTo}\0${streamId}`;
    let m = this.byTask.get(taskId);
    const cur = m?.get(key);
    if (cur) {
      cur.expires = Date.now() + WATCH_TTL_MS;
      return;
    }
    if (this.count >= MAX_WATCHERS) throw new Error(`too many live watchers (${MAX_WATCHERS}); try again later`);
    if (!m) this.byTask.set(taskId, (m = new Map()));
    const w: Watcher = { replyTo, streamId, taskId, expires: Date.now() + WATCH_TTL_MS, timer: undefined };
    m.set(key, w);
    this.count++;
    // The state now (a task already done gets its `done` at once).
    w.timer = setTimeout(() => this.progress(key, w), 0);
  }

  /** The broker returned a message to `replyTo`: that CLI is gone. */
  gone(replyTo: string): void {
    for (const [taskId, m] of this.byTask) for (const [k, w] of m) if (w.replyTo === replyTo) this.drop(taskId, k, w);
  }

  close(): void {
    this.service.off("task", this.onTask);
    clearInterval(this.sweeper);
    for (const [taskId, m] of this.byTask) for (const [k, w] of m) this.drop(taskId, k, w);
  }

  private drop(taskId: number, key: string, w: Watcher): void {
    if (w.timer) clearTimeout(w.timer);
    const m = this.byTask.get(taskId);
    if (m?.delete(key)) this.count--;
    if (m && !m.size) this.byTask.delete(taskId);
  }

  private expire(now: number): void {
    for (const [taskId, m] of this.byTask) for (const [k, w] of m) if (w.expires < now) this.drop(taskId, k, w);
  }

  private onTask = (taskId: number, ev?: AgentEvent): void => {
    const m = this.byTask.get(taskId);
    if (!m) return;
    for (const [key, w] of m) {
      if (ev?.kind === "output") this.send(w.replyTo, w.streamId, { kind: "output", host: ev.host, stream: ev.stream, data: ev.data });
      else if (ev?.kind === "started") this.send(w.replyTo, w.streamId, { kind: "started", host: ev.host });
      w.timer ??= setTimeout(() => this.progress(key, w), PROGRESS_MS);
    }
  };

  private progress(key: string, w: Watcher): void {
    w.timer = undefined;
    const counts = this.service.store.counts(w.taskId);
    const done = Object.keys(counts).every((s) => !["pending", "queued", "running"].includes(s));
    this.send(w.replyTo, w.streamId, { kind: "progress", state: done ? "done" : "active", counts });
    if (done) {
      this.send(w.replyTo, w.streamId, { kind: "done", counts });
      this.drop(w.taskId, key, w);
    }
  }
}
