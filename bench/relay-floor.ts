/**
 * The floor under any one-threaded Node broker on this machine: a relay
 * process that forwards bytes from one TCP socket to another and does nothing
 * else (no framing, no queue), loaded the way `npm run bench` loads a broker
 * (a publisher and a consumer in worker threads of this process).
 *
 *   node dist/bench/relay-floor.js [--seconds 5] [--rounds 3]
 *
 * Prints, per round: MB/s through the relay with 128 KiB writes and the relay's
 * CPU (of one core), and latency at 5,000 16-byte stamps per second sent five
 * per millisecond (s6's pattern). A broker cannot beat these figures on the same
 * machine with the same socket API; docs/benchmarks.md compares against them.
 */
import { fork, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, connect, type Socket } from "node:net";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";

const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** child process: accept two connections, the first byte says which is which, then pipe */
function relay(): void {
  let out: Socket | null = null;
  let inp: Socket | null = null;
  const server = createServer((s) => {
    s.setNoDelay(true);
    s.once("data", (d) => {
      if (d[0] === 0x43 /* C */) out = s;
      else inp = s;
      if (d.length > 1) throw new Error("role byte must come alone");
      if (out && inp) {
        const o = out;
        const i = inp;
        // honour backpressure like a broker must
        i.on("data", (c) => {
          if (!o.write(c)) {
            i.pause();
            o.once("drain", () => i.resume());
          }
        });
      }
    });
    s.on("error", () => process.exit(0));
  });
  server.listen(0, "127.0.0.1", () => process.send!((server.address() as { port: number }).port));
}

interface Job {
  role: "pub" | "con";
  mode: "throughput" | "latency";
  port: number;
  seconds: number;
}

/** worker thread: publisher or consumer */
function worker(job: Job): void {
  const s = connect(job.port, "127.0.0.1", () => {
    s.setNoDelay(true);
    s.write(job.role === "con" ? "C" : "P");
    if (job.role === "pub") setTimeout(job.mode === "throughput" ? pumpFast : pumpRate, 200);
  });
  s.on("error", () => {});
  const end = Date.now() + 200 + job.seconds * 1000 + 500;
  function pumpFast(): void {
    const buf = Buffer.alloc(128 * 1024, 0x61);
    const go = (): void => {
      while (Date.now() < end) if (!s.write(buf)) return void s.once("drain", go);
      s.destroy();
    };
    go();
  }
  function pumpRate(): void {
    const start = nowUs();
    let sent = 0;
    const t = setInterval(() => {
      if (Date.now() >= end) {
        clearInterval(t);
        s.destroy();
        return;
      }
      const due = Math.floor(((nowUs() - start) * 5000) / 1e6) - sent;
      if (due <= 0) return;
      const b = Buffer.alloc(16 * due);
      const stamp = nowUs();
      for (let i = 0; i < due; i++) b.writeDoubleBE(stamp, i * 16);
      s.write(b);
      sent += due;
    }, 1);
  }
  if (job.role === "con") {
    const t0 = Date.now();
    const inWindow = (): boolean => Date.now() - t0 > 1200 && Date.now() - t0 < 1200 + job.seconds * 1000;
    let bytes = 0;
    let first = 0;
    let last = 0;
    const lat: number[] = [];
    let pend: Buffer | null = null; // a 16-byte stamp split across reads
    s.on("data", (d: Buffer) => {
      const recording = inWindow();
      if (job.mode === "throughput") {
        if (!recording) return;
        if (first === 0) first = Date.now();
        last = Date.now();
        bytes += d.length;
        return;
      }
      const t = nowUs();
      if (pend) d = Buffer.concat([pend, d]);
      let i = 0;
      for (; i + 16 <= d.length; i += 16) if (recording) lat.push(t - d.readDoubleBE(i));
      pend = i < d.length ? Buffer.from(d.subarray(i)) : null;
    });
    setTimeout(
      () => {
        parentPort!.postMessage(job.mode === "throughput" ? { mbps: bytes / 1e6 / Math.max(0.001, (last - first) / 1000) } : { lat });
        s.destroy();
      },
      1200 + job.seconds * 1000 + 100,
    );
  }
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (100/s)
}

async function round(mode: Job["mode"], seconds: number): Promise<Record<string, number>> {
  const child: ChildProcess = fork(new URL(import.meta.url), ["relay"], { stdio: "ignore" });
  try {
    const port = await new Promise<number>((r) => child.once("message", (m) => r(m as number)));
    const run = (role: Job["role"]) => new Worker(new URL(import.meta.url), { workerData: { role, mode, port, seconds } satisfies Job });
    const con = run("con");
    await new Promise((r) => setTimeout(r, 100));
    const pub = run("pub");
    await new Promise((r) => setTimeout(r, 1200));
    const c0 = cpuTicks(child.pid!);
    const result = await new Promise<{ mbps?: number; lat?: number[] }>((r) => con.once("message", r));
    const cpu = (cpuTicks(child.pid!) - c0) / seconds; // % of one core
    await Promise.all([con.terminate(), pub.terminate()]);
    if (mode === "throughput") return { mbps: result.mbps!, cpu };
    const a = Float64Array.from(result.lat!).sort();
    const p = (q: number) => a[Math.min(a.length - 1, Math.ceil((q / 100) * a.length) - 1)]! / 1000;
    return { p50: p(50), p99: p(99), p999: p(99.9), n: a.length };
  } finally {
    child.kill();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, dflt: number) => {
    const i = args.indexOf(name);
    const v = i >= 0 ? Number(args[i + 1]) : dflt;
    if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number`);
    return v;
  };
  const seconds = opt("--seconds", 5);
  const rounds = opt("--rounds", 3);
  for (let r = 1; r <= rounds; r++) {
    const t = await round("throughput", seconds);
    const l = await round("latency", seconds);
    console.log(
      `round ${r}: ${t.mbps!.toFixed(0)} MB/s at ${t.cpu!.toFixed(0)}% CPU (relay); ` + `latency ms p50 ${l.p50!.toFixed(3)} p99 ${l.p99!.toFixed(3)} p99.9 ${l.p999!.toFixed(3)} (${l.n} samples)`,
    );
  }
}

if (!isMainThread) worker(workerData as Job);
else if (process.argv[2] === "relay") relay();
else
  main().catch((e) => {
    console.error(`relay-floor: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  });
