/**
 * Vhost limits, user limits and operator policies are stored as RabbitMQ stores them and
 * survive a restart (definitions log) and a definitions export. warren only: it restarts the
 * broker on the same data directory. (Their shapes are pinned against RabbitMQ 3.10.8 by
 * test/contract and test/ctl.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { startBroker, tempDir } from "../helpers/broker.js";
import { Api } from "./helpers.js";

test("vhost limits, user limits and operator policies persist across a restart and export", async (t) => {
  if (process.env.WARREN_TEST_URL) return t.skip("restarts an in-process warren");
  const dataDir = tempDir();
  try {
    let b = await startBroker({ mgmt: true, dataDir });
    let api = new Api(b.mgmtUrl!);
    assert.equal((await api.put("/api/vhost-limits/%2F/max-queues", { value: 50 })).status, 204);
    assert.equal((await api.put("/api/users/lim", { password: "pw", tags: "" })).status, 201);
    assert.equal((await api.put("/api/user-limits/lim/max-channels", { value: 7 })).status, 204);
    assert.equal((await api.put("/api/operator-policies/%2F/cap", { pattern: "^big", definition: { "max-length": 10 }, "apply-to": "queues" })).status, 201);
    assert.equal((await api.put("/api/vhost-limits/%2F/max-queues", { value: "many" })).status, 400);
    await b.stop();
    b = await startBroker({ mgmt: true, dataDir });
    api = new Api(b.mgmtUrl!);
    assert.deepEqual((await api.get("/api/vhost-limits")).json, [{ vhost: "/", value: { "max-queues": 50 } }]);
    assert.deepEqual((await api.get("/api/user-limits")).json, [{ user: "lim", value: { "max-channels": 7 } }]);
    const op = (await api.get("/api/operator-policies/%2F/cap")).json;
    assert.deepEqual(op, { vhost: "/", name: "cap", pattern: "^big", "apply-to": "queues", definition: { "max-length": 10 }, priority: 0 });
    const defs = (await api.get("/api/definitions")).json;
    assert.deepEqual(defs.users.find((u: { name: string }) => u.name === "lim").limits, { "max-channels": 7 });
    assert.ok(defs.parameters.some((p: { component: string; name: string }) => p.component === "vhost-limits" && p.name === "limits"));
    assert.ok(defs.parameters.some((p: { component: string; name: string }) => p.component === "operator_policy" && p.name === "cap"));
    await b.stop();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
