/**
 * Enrolment through the broker's management HTTP API — RabbitMQ's /api/users
 * and /api/permissions (warren serves the same paths): create the agent's
 * broker user with permissions limited to its own queue and Fleet's result
 * exchanges, and revoke it (delete the user, close its connections, delete
 * its queue), through the shared management-API client (src/lib/mgmt-client.ts).
 */
import { MgmtClient, MgmtUnreachable, type MgmtReply } from "../lib/mgmt-client.js";
import { brokerUrls } from "./conn.js";
import { agentPermissions, agentUser, hostQueue } from "./topology.js";

export class FleetMgmt {
  private readonly client: MgmtClient;

  constructor(mgmtUrl: string) {
    this.client = new MgmtClient(mgmtUrl);
  }

  async req(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    let res: MgmtReply;
    try {
      res = await this.client.send(method, path, body);
    } catch (e) {
      if (e instanceof MgmtUnreachable) throw new Error(`management API ${e.base} unreachable: ${e.fetchError}`);
      throw e;
    }
    const json = res.body ?? null;
    if (res.status >= 400 && !(method === "DELETE" && res.status === 404))
      throw new Error(`management API ${method} ${path}: HTTP ${res.status} ${typeof json === "object" ? JSON.stringify(json) : String(json)}`);
    return { status: res.status, json };
  }

  async enrol(host: string, vhost: string, password: string): Promise<{ user: string; permissions: ReturnType<typeof agentPermissions> }> {
    const user = agentUser(host);
    await this.req("PUT", `/api/users/${encodeURIComponent(user)}`, { password, tags: "" });
    const permissions = agentPermissions(host);
    await this.req("PUT", `/api/permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(user)}`, permissions);
    return { user, permissions };
  }

  /** Revoke a host; says what there was to revoke (a never-enrolled host has no user to delete). */
  async revoke(host: string, vhost: string): Promise<{ userDeleted: boolean; connectionsClosed: number; queueDeleted: boolean }> {
    const user = agentUser(host);
    const u = await this.req("DELETE", `/api/users/${encodeURIComponent(user)}`);
    // Deleting a user does not necessarily drop its open connections: close them explicitly.
    const conns = await this.req("GET", "/api/connections").catch(() => ({ status: 0, json: [] }));
    let connectionsClosed = 0;
    for (const c of (Array.isArray(conns.json) ? conns.json : []) as Array<{ name: string; user: string }>) {
      if (
        c.user === user &&
        (await this.req("DELETE", `/api/connections/${encodeURIComponent(c.name)}`).then(
          (r) => r.status < 300,
          () => false,
        ))
      )
        connectionsClosed++;
    }
    const q = await this.req("DELETE", `/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(hostQueue(host))}`);
    return { userDeleted: u.status < 300, connectionsClosed, queueDeleted: q.status < 300 };
  }
}

export function vhostOf(amqpUrl: string): string {
  const p = new URL(brokerUrls(amqpUrl)[0]!).pathname;
  return p && p !== "/" ? decodeURIComponent(p.slice(1)) : "/";
}
