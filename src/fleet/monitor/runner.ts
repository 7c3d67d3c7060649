/**
 * The agent's monitoring: it applies signed templates (the newest by issue
 * time; kept in <stateDir>/template.json so monitoring goes on across restarts
 * and while broker or collector are away), schedules the items on wall-clock
 * ticks (each host with its own phase, so 10,000 hosts do not all publish at
 * :00), reads built-ins in-process, runs command items through exec.ts
 * (process group, timeout, output cap), and publishes one batch per tick.
 *
 * Batches wait in a bounded backlog until the broker confirms them; after a
 * reconnect the unconfirmed ones are sent again with their original
 * timestamps (the collector drops duplicates by seq). When the backlog is full
 * the oldest batch is dropped and counted.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ConfirmChannel } from "amqplib";
import { execute, type Running } from "../exec.js";
import { Builtins } from "./builtins.js";
import { METRICS_EXCHANGE, metricsKey, type ConfigPayload, type MetricsBatch } from "./protocol.js";
import { revOf, type EffectiveTemplate, type Item } from "./template.js";

export interface MonitorOptions {
  host: string;
  stateDir: string;
  log: (line: string) => void;
  /** broker login, set as user_id on every batch */
  userId: string;
  /** batches kept while the broker is away (default 1000) */
  maxBacklog?: number;
  proc?: string;
}

/** Output a command item may produce: a number, not a log. */
const ITEM_OUTPUT_CAP = 64 * 1024;

export class Monitor {
  template: EffectiveTemplate | undefined;
  private issuedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private builtins: Builtins;
  private running = new Map<string, Running>();
  private seq: number;
  private backlog: Array<{ seq: number; body: Buffer; sentGen: number }> = [];
  private ch: ConfirmChannel | undefined;
  private gen = 0;
  private stopped = false;
  private readonly phaseMs: number;
  /** counters, visible to tests and logs */
  dropped = 0;
  overruns = 0;

  constructor(private readonly o: MonitorOptions) {
    this.builtins = new Builtins(o.proc);
    // seq never goes back across restarts: it starts above any earlier run's (one batch per second at most)
    this.seq = Date.now();
    const saved = this.file();
    if (existsSync(saved)) {
      try {
        const j = JSON.parse(readFileSync(saved, "utf8")) as { issuedAt: number; template: EffectiveTemplate };
        if (j.template && revOf(j.template) === j.template.rev) {
          this.template = j.template;
          this.issuedAt = j.issuedAt;
        }
      } catch (e) {
        o.log(`ignoring unreadable ${saved}: ${(e as Error).message}`);
      }
    }
    this.phaseMs = createHash("sha256").update(o.host).digest().readUInt32BE(0) % 1000;
  }

  private file(): string {
    return join(this.o.stateDir, "template.json");
  }

  get rev(): string | null {
    return this.template?.rev ?? null;
  }

  /**
   * A verified (signature, key, target) config. Refuses stale ones (an older or replayed push) and
   * templates whose content does not match their rev. Returns a reason when refused.
   */
  apply(p: ConfigPayload): string | undefined {
    const t = p.template;
    if (!t || typeof t !== "object" || t.host !== this.o.host || typeof t.items !== "object" || !Array.isArray(t.rules)) return "template refused: malformed or for another host";
    if (revOf(t) !== t.rev) return "template refused: content does not match its rev";
    if (p.issuedAt < this.issuedAt) return `template refused: stale (issued ${new Date(p.issuedAt).toISOString()}, ours is newer)`;
    this.issuedAt = p.issuedAt;
    if (this.template?.rev === t.rev) return undefined;
    const before = this.template;
    this.template = t;
    mkdirSync(this.o.stateDir, { recursive: true });
    writeFileSync(this.file() + ".tmp", JSON.stringify({ issuedAt: p.issuedAt, template: t }), { mode: 0o600 });
    renameSync(this.file() + ".tmp", this.file());
    // Items whose command or collector changed lose their running command; unchanged ones keep their rate state.
    for (const [k, r] of this.running) if (JSON.stringify(before?.items[k]) !== JSON.stringify(t.items[k])) r.cancel();
    this.o.log(`template ${t.rev} applied (${Object.keys(t.items).length} items, ${t.rules.length} rules; from ${t.templates.join(", ") || "no templates"})`);
    return undefined;
  }

  start(): void {
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    const now = Date.now();
    // next whole second + this host's phase
    const next = Math.floor((now - this.phaseMs) / 1000) * 1000 + 1000 + this.phaseMs;
    this.timer = setTimeout(() => {
      this.tick(next);
      this.schedule();
    }, next - now);
    this.timer.unref();
  }

  private tick(at: number): void {
    const t = this.template;
    if (!t) return;
    const sec = Math.floor((at - this.phaseMs) / 1000);
    const due = Object.entries(t.items).filter(([, it]) => sec % Math.max(1, Math.round(it.intervalMs / 1000)) === 0);
    if (!due.length) return;
    const s: Record<string, number> = {};
    const err: Record<string, string> = {};
    this.builtins.begin(at);
    const cmds: Array<Promise<void>> = [];
    for (const [k, it] of due) {
      if (it.cmd !== undefined) {
        if (this.running.has(k)) {
          this.overruns++;
          err[k] = "overrun: the previous run is still going";
          continue;
        }
        cmds.push(this.runCmd(k, it, s, err));
        continue;
      }
      try {
        const v = this.builtins.value(it);
        if (v !== undefined && Number.isFinite(v)) s[k] = v;
      } catch (e) {
        err[k] = (e as Error).message;
      }
    }
    this.builtins.end();
    const send = (): void => {
      if (!Object.keys(s).length && !Object.keys(err).length) return;
      const b: MetricsBatch = { v: 1, kind: "metrics", host: this.o.host, rev: t.rev, t: at, seq: ++this.seq, s, ...(Object.keys(err).length ? { err } : {}) };
      this.enqueue(b.seq, Buffer.from(JSON.stringify(b)));
    };
    if (cmds.length) void Promise.all(cmds).then(send);
    else send();
  }

  private async runCmd(key: string, it: Item, s: Record<string, number>, err: Record<string, string>): Promise<void> {
    const r = execute({ shell: it.cmd!, timeoutMs: it.timeoutMs ?? 10_000, maxOutput: ITEM_OUTPUT_CAP, env: { FLEET_HOST: this.o.host, FLEET_ITEM: key } });
    this.running.set(key, r);
    const out = await r.done;
    if (this.running.get(key) === r) this.running.delete(key);
    if (out.status !== "ok") {
      err[key] = out.status === "timeout" ? `timeout after ${it.timeoutMs} ms` : (out.error ?? (out.exitCode !== null ? `exit ${out.exitCode}` : `killed by ${out.signal ?? "a signal"}`));
      return;
    }
    const line = out.stdout.split("\n", 1)[0]!.trim();
    const v = Number(line);
    if (line === "" || !Number.isFinite(v)) err[key] = `not a number: ${JSON.stringify(line.slice(0, 80))}`;
    else s[key] = v;
  }

  private enqueue(seq: number, body: Buffer): void {
    const max = this.o.maxBacklog ?? 1000;
    while (this.backlog.length >= max) {
      this.backlog.shift();
      this.dropped++;
    }
    this.backlog.push({ seq, body, sentGen: 0 });
    this.pump();
  }

  /** The agent's metrics channel after (re)connecting; undefined when the connection is gone. */
  connected(ch: ConfirmChannel | undefined): void {
    this.ch = ch;
    this.gen++;
    this.pump();
  }

  private pump(): void {
    const ch = this.ch;
    if (!ch) return;
    const gen = this.gen;
    for (const e of this.backlog) {
      if (e.sentGen === gen) continue;
      e.sentGen = gen;
      try {
        ch.publish(METRICS_EXCHANGE, metricsKey(this.o.host), e.body, { contentType: "application/json", type: "metrics", userId: this.o.userId }, (error) => {
          if (error) {
            // nacked, or the channel died: try again on the next pump, unless a newer channel already resent it
            if (e.sentGen === gen) e.sentGen = 0;
            return;
          }
          const i = this.backlog.indexOf(e);
          if (i >= 0) this.backlog.splice(i, 1);
        });
      } catch {
        e.sentGen = 0;
        return; // channel closed: the next connected() resends
      }
    }
  }

  get backlogSize(): number {
    return this.backlog.length;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const r of this.running.values()) r.cancel();
  }
}
