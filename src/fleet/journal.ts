/**
 * The agent's durable memory: an append-only JSON-lines journal of the nonces
 * it has taken, so a command is never executed twice (replay protection that
 * survives restarts) and a restart can tell what was interrupted.
 *
 * Records: {t:"start",n,task,exp} written (fsync) BEFORE a command runs;
 * {t:"result",n,r} written before the result is published; {t:"acked",n}
 * once the broker confirmed the result and the command was acked;
 * {t:"seen",n,exp} for a refused or cancelled nonce (never runs later).
 * On open we compact: records of nonces whose command expiry has passed are
 * dropped, because an expired command is refused on expiry alone.
 */
import { closeSync, existsSync, fdatasync, mkdirSync, openSync, readFileSync, renameSync, write, writeFileSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { ResultMessage } from "./protocol.js";

export interface NonceState {
  nonce: string;
  task: number | null;
  exp: number;
  started: boolean;
  result?: ResultMessage;
  acked: boolean;
}

type Rec =
  | { t: "start"; n: string; task: number | null; exp: number }
  | { t: "seen"; n: string; task: number | null; exp: number }
  | { t: "result"; n: string; r: ResultMessage }
  | { t: "acked"; n: string };

/** Keep finished nonces a little past their expiry so clock skew cannot reopen them. */
const KEEP_AFTER_EXP_MS = 10 * 60_000;

export class Journal {
  readonly nonces = new Map<string, NonceState>();
  private fd: number;
  private chain: Promise<void> = Promise.resolve();

  /** `sync` false: no fdatasync (only the control-plane bench's simulated agents, via AgentOptions). */
  constructor(
    private readonly file: string,
    private readonly sync = true,
  ) {
    mkdirSync(dirname(file), { recursive: true });
    if (existsSync(file)) this.load();
    this.compact();
    this.fd = openSync(file, "a");
  }

  private load(): void {
    for (const line of readFileSync(this.file, "utf8").split("\n")) {
      if (!line) continue;
      let r: Rec;
      try {
        r = JSON.parse(line) as Rec;
      } catch {
        continue; // a torn last line after a crash
      }
      this.apply(r);
    }
  }

  private apply(r: Rec): void {
    if (r.t === "start" || r.t === "seen") {
      this.nonces.set(r.n, { nonce: r.n, task: r.task, exp: r.exp, started: r.t === "start", acked: r.t === "seen" });
      return;
    }
    const s = this.nonces.get(r.n);
    if (!s) return;
    if (r.t === "result") s.result = r.r;
    else s.acked = true;
  }

  private compact(): void {
    const now = Date.now();
    const lines: string[] = [];
    for (const s of this.nonces.values()) {
      if (s.acked && s.exp + KEEP_AFTER_EXP_MS < now) {
        this.nonces.delete(s.nonce);
        continue;
      }
      lines.push(JSON.stringify({ t: s.started ? "start" : "seen", n: s.nonce, task: s.task, exp: s.exp }));
      if (s.result) lines.push(JSON.stringify({ t: "result", n: s.nonce, r: s.result }));
      if (s.acked && s.started) lines.push(JSON.stringify({ t: "acked", n: s.nonce }));
    }
    const tmp = this.file + ".tmp";
    writeFileSync(tmp, lines.length ? lines.join("\n") + "\n" : "");
    renameSync(tmp, this.file);
  }

  /**
   * Appends are chained (in order) and asynchronous, so many agents in one
   * process (the benchmark) or many tasks do not stall the event loop on
   * fsync; the in-memory state changes at once, so a second delivery of the
   * same nonce is refused even before the disk write finishes.
   */
  private write(r: Rec, durable: boolean): Promise<void> {
    this.apply(r);
    const line = JSON.stringify(r) + "\n";
    if (!this.sync) {
      // nothing to fsync (the bench's simulated hosts): append to the page cache at once. A
      // thread-pool write per record cost a fifth of the CPU of 1,000 simulated agents (the
      // hand-off to libuv's pool, on 2 cores shared with it), and the chain is never used here
      try {
        const buf = Buffer.from(line);
        for (let off = 0; off < buf.length; ) off += writeSync(this.fd, buf, off);
        return Promise.resolve();
      } catch (e) {
        return Promise.reject(e as Error);
      }
    }
    const next = this.chain.then(
      () =>
        new Promise<void>((resolve, reject) => {
          write(this.fd, line, (e) => {
            if (e) return reject(e);
            if (!durable || !this.sync) return resolve();
            fdatasync(this.fd, (e2) => (e2 ? reject(e2) : resolve()));
          });
        }),
    );
    this.chain = next.catch(() => {}); // one failed write must not block later ones
    return next;
  }

  start(nonce: string, task: number | null, exp: number): Promise<void> {
    return this.write({ t: "start", n: nonce, task, exp }, true);
  }
  seen(nonce: string, task: number | null, exp: number): Promise<void> {
    return this.write({ t: "seen", n: nonce, task, exp }, true);
  }
  result(nonce: string, r: ResultMessage): Promise<void> {
    return this.write({ t: "result", n: nonce, r }, true);
  }
  acked(nonce: string): Promise<void> {
    return this.write({ t: "acked", n: nonce }, false).catch(() => {});
  }
  async close(): Promise<void> {
    await this.chain;
    try {
      closeSync(this.fd);
    } catch {
      /* already closed */
    }
  }
}
