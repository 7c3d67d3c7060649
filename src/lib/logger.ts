/**
 * Minimal leveled logger: one line per event on stderr, quiet by default
 * (level "info" prints start-up/shutdown and warnings; per-connection events are "debug").
 */
export type LogLevel = "silent" | "error" | "warn" | "info" | "debug";
const ORDER: Record<LogLevel, number> = { silent: 0, error: 1, warn: 2, info: 3, debug: 4 };

export class Logger {
  private lv: number;
  constructor(
    level: LogLevel = "info",
    private readonly sink: (line: string) => void = (l) => process.stderr.write(l + "\n"),
  ) {
    this.lv = ORDER[level] ?? 3;
  }
  setLevel(level: LogLevel): void {
    this.lv = ORDER[level] ?? 3;
  }
  enabled(level: LogLevel): boolean {
    return ORDER[level] <= this.lv;
  }
  private emit(level: LogLevel, msg: string): void {
    if (ORDER[level] > this.lv) return;
    this.sink(`${new Date().toISOString()} [${level}] ${msg}`);
  }
  error(msg: string): void {
    this.emit("error", msg);
  }
  warn(msg: string): void {
    this.emit("warn", msg);
  }
  info(msg: string): void {
    this.emit("info", msg);
  }
  debug(msg: string): void {
    this.emit("debug", msg);
  }
}
