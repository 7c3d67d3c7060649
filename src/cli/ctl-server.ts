/**
 * Which server `warren ctl` talks to, in the order Fleet's verbs use: --mgmt-url, else
 * WARREN_MGMT_URL, else the management URL the local `warren server` wrote into
 * <data dir>/fleet/local.json (data dir from --data-dir, WARREN_DATA_DIR, default ./data) —
 * skipped when the process that wrote it is gone — else http://guest:guest@localhost:15672.
 * Returns where the URL came from so ctl can say which server answered.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const DEFAULT_MGMT_URL = "http://guest:guest@localhost:15672";

export interface FoundServer {
  url: string;
  source: "default" | string;
}

function alive(pid: unknown): boolean {
  if (typeof pid !== "number") return true; // no pid recorded: trust the file
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function findServer(flag: string | undefined, dataDirFlag: string | undefined, env: NodeJS.ProcessEnv = process.env): FoundServer {
  if (flag) return { url: flag, source: "--mgmt-url" };
  if (env["WARREN_MGMT_URL"]) return { url: env["WARREN_MGMT_URL"], source: "WARREN_MGMT_URL" };
  const local = join(dataDirFlag ?? env["WARREN_DATA_DIR"] ?? "./data", "fleet", "local.json");
  if (existsSync(local)) {
    try {
      const j = JSON.parse(readFileSync(local, "utf8")) as { mgmtUrl?: string; pid?: number };
      if (j.mgmtUrl && alive(j.pid)) return { url: j.mgmtUrl, source: local };
    } catch {
      /* a half-written or foreign file: fall through to the default */
    }
  }
  return { url: DEFAULT_MGMT_URL, source: "default" };
}
