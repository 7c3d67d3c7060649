/**
 * The shared management-API client (src/lib/mgmt-client.ts) against a real warren's management
 * API: credentials from the URL or the caller's defaults, JSON out and in, HTTP errors returned as
 * replies (each caller maps them), only an unreachable server thrown — with the socket-level reason.
 * And its two users keep their own errors: ctl's CtlError exit codes, Fleet's messages.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { MgmtClient, MgmtUnreachable } from "../../../src/lib/mgmt-client.js";
import { CtlApi, CtlError, EX_NOPERM, EX_SOFTWARE, EX_UNAVAILABLE, EX_USAGE } from "../../../src/cli/ctl-http.js";
import { FleetMgmt } from "../../../src/fleet/mgmt.js";
import { startBroker, type TestBroker } from "../../helpers/broker.js";

let b: TestBroker;
let bare: string;
before(async () => {
  b = await startBroker({ mgmt: true });
  bare = b.mgmtUrl!.replace("guest:guest@", "");
});
after(async () => {
  await b.stop();
});

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test("credentials come from the URL, else from the caller's defaults; the base has none", async () => {
  const c = new MgmtClient(b.mgmtUrl!);
  assert.ok(!c.base.includes("guest"));
  const r = await c.send("GET", "/api/whoami");
  assert.equal(r.status, 200);
  assert.equal((r.body as { name: string }).name, "guest");
  assert.equal((await new MgmtClient(bare).send("GET", "/api/whoami")).status, 401, "no credentials, no defaults");
  assert.equal((await new MgmtClient(bare, { defaultUser: "guest", defaultPass: "guest" }).send("GET", "/api/whoami")).status, 200);
  const other = new MgmtClient(b.mgmtUrl!).withCredentials("nobody", "wrong");
  const denied = await other.send("GET", "/api/whoami");
  assert.equal(denied.status, 401);
  assert.equal(denied.ok, false);
  assert.equal(typeof (denied.body as { reason: string }).reason, "string");
});

test("JSON bodies out, replies parsed; an empty reply is undefined; a string body goes as is", async () => {
  const c = new MgmtClient(b.mgmtUrl!);
  assert.equal((await c.send("PUT", "/api/vhosts/mc-test", {})).status, 201);
  const del = await c.send("DELETE", "/api/vhosts/mc-test");
  assert.equal(del.status, 204);
  assert.equal(del.body, undefined);
  assert.equal(del.text, "");
  const bad = await c.send("PUT", "/api/vhosts/mc-test2", "{not json");
  assert.equal(bad.status, 400);
});

test("an unreachable server throws MgmtUnreachable with the socket's reason", async () => {
  const port = await deadPort();
  await assert.rejects(new MgmtClient(`http://guest:guest@127.0.0.1:${port}`).send("GET", "/api/overview"), (e: unknown) => {
    assert.ok(e instanceof MgmtUnreachable);
    assert.equal(e.why, "ECONNREFUSED");
    assert.equal(e.base, `http://127.0.0.1:${port}`);
    return true;
  });
  assert.throws(() => new MgmtClient("not a url"), TypeError);
});

test("ctl keeps rabbitmqctl's exit codes; Fleet keeps its messages", async () => {
  const port = await deadPort();
  const ctlError = async (p: Promise<unknown>): Promise<CtlError> => {
    try {
      await p;
    } catch (e) {
      assert.ok(e instanceof CtlError);
      return e;
    }
    throw new Error("expected a CtlError");
  };
  assert.equal((await ctlError(new CtlApi(`http://127.0.0.1:${port}`).get("/api/overview"))).exitCode, EX_UNAVAILABLE);
  assert.equal((await ctlError(new CtlApi(b.mgmtUrl!).as("nobody", "wrong").get("/api/overview"))).exitCode, EX_NOPERM);
  const missing = await ctlError(new CtlApi(b.mgmtUrl!).get("/api/queues/%2F/no-such-queue"));
  assert.equal(missing.exitCode, EX_SOFTWARE);
  assert.equal(missing.message, "not found: /api/queues/%2F/no-such-queue");
  assert.throws(
    () => new CtlApi("::"),
    (e: unknown) => e instanceof CtlError && e.exitCode === EX_USAGE && e.message === "invalid management URL '::'",
  );
  assert.equal(((await new CtlApi(bare).get("/api/whoami")) as { name: string }).name, "guest", "ctl defaults to guest/guest");

  const fleet = new FleetMgmt(b.mgmtUrl!);
  assert.equal((await fleet.req("DELETE", "/api/queues/%2F/no-such-queue")).status, 404, "a DELETE of nothing is an answer");
  await assert.rejects(fleet.req("GET", "/api/queues/%2F/no-such-queue"), /^Error: management API GET \/api\/queues\/%2F\/no-such-queue: HTTP 404 /);
  await assert.rejects(new FleetMgmt(`http://127.0.0.1:${port}`).req("GET", "/api/overview"), new RegExp(`^Error: management API http://127.0.0.1:${port} unreachable: fetch failed$`));
});
