/**
 * The agent's built-in collectors: cpu, load, memory, disk and network, read
 * from /proc and statfs in-process (no fork). Rates (cpu %, bytes/s) come from
 * the delta against the previous reading of the same source, so the first tick
 * after a start (or after an item is added) has no rate for them.
 *
 * One `Builtins` per agent: each tick calls begin() once, then value() per
 * item; a /proc file is read at most once per tick whatever the number of items.
 */
import { readFileSync, statfsSync } from "node:fs";
import type { BuiltinName, Item } from "./template.js";

interface CpuTimes {
  total: number;
  idle: number;
  user: number;
  system: number;
  iowait: number;
  steal: number;
}
interface NetTotals {
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
  rxErrs: number;
  txErrs: number;
}

/** Reads the proc root given (tests and the bench may point it elsewhere; "/proc" in production). */
export class Builtins {
  private cache = new Map<string, string>();
  private prevCpu: { at: number; t: CpuTimes } | undefined;
  private curCpu: CpuTimes | undefined;
  private prevNet = new Map<string, { at: number; n: NetTotals }>();
  private now = 0;

  constructor(private readonly proc = "/proc") {}

  /** Start a tick: forget last tick's file contents. */
  begin(now: number): void {
    this.cache.clear();
    this.now = now;
    this.curCpu = undefined;
  }

  /** After a tick: the readings become the base for the next tick's rates. */
  end(): void {
    if (this.curCpu) this.prevCpu = { at: this.now, t: this.curCpu };
    for (const [k, v] of this.pendingNet) this.prevNet.set(k, v);
    this.pendingNet.clear();
  }

  private pendingNet = new Map<string, { at: number; n: NetTotals }>();

  private read(name: string): string {
    let s = this.cache.get(name);
    if (s === undefined) {
      s = readFileSync(`${this.proc}/${name}`, "utf8");
      this.cache.set(name, s);
    }
    return s;
  }

  /** The item's value now, undefined when it has no value yet (a rate's first reading); throws with a reason when unreadable. */
  value(it: Item): number | undefined {
    switch (it.collector as BuiltinName) {
      case "cpu":
        return this.cpu(it.field ?? "util");
      case "load":
        return this.load(it.field ?? "1");
      case "memory":
        return this.memory(it.field ?? "used_pct");
      case "disk":
        return disk(it.mount ?? "/", it.field ?? "used_pct");
      case "net":
        return this.net(it.iface ?? "*", it.field ?? "rx_bps");
      default:
        throw new Error(`unknown collector ${String(it.collector)}`);
    }
  }

  private cpu(field: string): number | undefined {
    if (!this.curCpu) {
      const line = this.read("stat").split("\n", 1)[0]!;
      const f = line.trim().split(/\s+/).slice(1).map(Number);
      const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
      this.curCpu = { total: user + nice + system + idle + iowait + irq + softirq + steal, idle: idle + iowait, user: user + nice, system: system + irq + softirq, iowait, steal };
    }
    const p = this.prevCpu?.t;
    const c = this.curCpu;
    if (!p || c.total <= p.total) return undefined;
    const d = c.total - p.total;
    const pct = (x: number): number => Math.round((x / d) * 10_000) / 100;
    switch (field) {
      case "util":
        return pct(d - (c.idle - p.idle));
      case "idle":
        return pct(c.idle - p.idle - (c.iowait - p.iowait));
      case "user":
        return pct(c.user - p.user);
      case "system":
        return pct(c.system - p.system);
      case "iowait":
        return pct(c.iowait - p.iowait);
      case "steal":
        return pct(c.steal - p.steal);
    }
    return undefined;
  }

  private load(field: string): number {
    const f = this.read("loadavg").split(" ");
    return Number(f[field === "15" ? 2 : field === "5" ? 1 : 0]);
  }

  private memory(field: string): number {
    const kv = new Map<string, number>();
    for (const line of this.read("meminfo").split("\n")) {
      const m = /^(\w+):\s+(\d+)/.exec(line);
      if (m) kv.set(m[1]!, Number(m[2]) * 1024);
    }
    const total = kv.get("MemTotal") ?? 0;
    const avail = kv.get("MemAvailable") ?? (kv.get("MemFree") ?? 0) + (kv.get("Cached") ?? 0);
    const pct = (a: number, b: number): number => (b > 0 ? Math.round((a / b) * 10_000) / 100 : 0);
    switch (field) {
      case "total":
        return total;
      case "available":
        return avail;
      case "used":
        return total - avail;
      case "swap_used_pct":
        return pct((kv.get("SwapTotal") ?? 0) - (kv.get("SwapFree") ?? 0), kv.get("SwapTotal") ?? 0);
      default:
        return pct(total - avail, total);
    }
  }

  private net(iface: string, field: string): number | undefined {
    const n: NetTotals = { rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0, rxErrs: 0, txErrs: 0 };
    let found = false;
    for (const line of this.read("net/dev").split("\n").slice(2)) {
      const i = line.indexOf(":");
      if (i < 0) continue;
      const name = line.slice(0, i).trim();
      if (iface === "*" ? name === "lo" : name !== iface) continue;
      const f = line
        .slice(i + 1)
        .trim()
        .split(/\s+/)
        .map(Number);
      n.rxBytes += f[0] ?? 0;
      n.rxPackets += f[1] ?? 0;
      n.rxErrs += f[2] ?? 0;
      n.txBytes += f[8] ?? 0;
      n.txPackets += f[9] ?? 0;
      n.txErrs += f[10] ?? 0;
      found = true;
    }
    if (!found && iface !== "*") throw new Error(`no network interface ${iface}`);
    if (field === "rx_errs") return n.rxErrs;
    if (field === "tx_errs") return n.txErrs;
    this.pendingNet.set(iface, { at: this.now, n });
    const p = this.prevNet.get(iface);
    if (!p || this.now <= p.at) return undefined;
    const s = (this.now - p.at) / 1000;
    const rate = (a: number, b: number): number => Math.max(0, Math.round(((a - b) / s) * 100) / 100);
    switch (field) {
      case "tx_bps":
        return rate(n.txBytes, p.n.txBytes);
      case "rx_pps":
        return rate(n.rxPackets, p.n.rxPackets);
      case "tx_pps":
        return rate(n.txPackets, p.n.txPackets);
      default:
        return rate(n.rxBytes, p.n.rxBytes);
    }
  }
}

function disk(mount: string, field: string): number {
  const s = statfsSync(mount);
  const total = s.blocks * s.bsize;
  const free = s.bavail * s.bsize;
  // used as df counts it: total minus free-for-root; used_pct against what users can have (df's Use%)
  const used = (s.blocks - s.bfree) * s.bsize;
  switch (field) {
    case "total":
      return total;
    case "free":
      return free;
    case "used":
      return used;
    case "inodes_used_pct":
      return s.files > 0 ? Math.round(((s.files - s.ffree) / s.files) * 10_000) / 100 : 0;
    default:
      return used + free > 0 ? Math.round((used / (used + free)) * 10_000) / 100 : 0;
  }
}
