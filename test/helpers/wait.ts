/**
 * Waiting for a condition instead of sleeping: poll `check` until it returns something
 * truthy, or fail after `timeoutMs` naming what was awaited. Tests wait on events and
 * states with this; a fixed sleep stays only where a test asserts that something does NOT
 * happen for a while (there is no event to wait for).
 */
export async function waitFor<T>(what: string, check: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 10_000, pollMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
