/**
 * /api/users(/name), /api/users/name/permissions|topic-permissions,
 * /api/users/bulk-delete. Administrators only, as in RabbitMQ.
 *
 * PUT takes `password` (hashed here with warren's scrypt) or `password_hash`
 * + `hashing_algorithm` (RabbitMQ's sha256/sha512/md5 hashes are accepted, so
 * users move with their passwords), and `tags` as "a,b" or a list. A PUT with
 * neither keeps the existing password (so tag changes do not need it).
 *
 * Definitions carry users the way RabbitMQ can import them: a scrypt user is
 * exported with its RabbitMQ-compatible `exportHash` as password_hash
 * (rabbit_password_hashing_sha256), plus `warren_password_hash` with the scrypt
 * hash, which RabbitMQ ignores and warren's import prefers (nothing is lost on a
 * warren-to-warren move).
 */
import type { HashAlgorithm, User } from "../../broker/auth.js";
import { hashPassword } from "../../broker/auth.js";
import { badRequest, notFound, sendEmpty, sendJSON, type Ctx } from "../context.js";
import { sendList } from "../listing.js";
import { requireAdmin } from "../access.js";
import type { Route } from "../router.js";
import { parseTags } from "./vhosts.js";
import { permissionJSON, topicPermissionJSON } from "./permissions.js";
import { command, type CommandOf } from "../../broker/commands.js";

const ALGORITHMS: readonly string[] = ["warren_scrypt", "rabbit_password_hashing_sha256", "rabbit_password_hashing_sha512", "rabbit_password_hashing_md5"];

export function userJSON(u: User): Record<string, unknown> {
  return { name: u.name, password_hash: u.passwordHash, hashing_algorithm: u.hashingAlgorithm, tags: u.tags, limits: u.limits ?? {} };
}

/** A user as /api/definitions exports it: importable by RabbitMQ, lossless for warren. */
export function userDefinitionJSON(u: User): Record<string, unknown> {
  if (u.hashingAlgorithm !== "warren_scrypt" || !u.exportHash) return userJSON(u);
  return {
    name: u.name,
    password_hash: u.exportHash,
    hashing_algorithm: "rabbit_password_hashing_sha256",
    warren_password_hash: u.passwordHash,
    tags: u.tags,
    limits: u.limits ?? {},
  };
}

function getUser(ctx: Ctx, name: string): User {
  const u = ctx.broker.users.get(name);
  if (!u) throw notFound();
  return u;
}

function list(ctx: Ctx): void {
  requireAdmin(ctx);
  sendList(ctx, [...ctx.broker.users.values()].map(userJSON));
}

function show(ctx: Ctx): void {
  requireAdmin(ctx);
  sendJSON(ctx.res, 200, userJSON(getUser(ctx, ctx.params[0]!)));
}

/** The user.add command for a PUT body (also used by definitions import). */
export function userCommand(name: string, body: Record<string, unknown>, existing: User | undefined, exportHashes: boolean): CommandOf<"user.add"> {
  if (name === "") throw badRequest("user name must not be empty");
  const tags = parseTags(body["tags"]);
  let hash: { passwordHash: string; hashingAlgorithm: HashAlgorithm; exportHash?: string };
  if (typeof body["password"] === "string") {
    hash = hashPassword(body["password"], exportHashes);
  } else if (typeof body["warren_password_hash"] === "string" && body["hashing_algorithm"] === "rabbit_password_hashing_sha256" && typeof body["password_hash"] === "string") {
    // exported by warren (userDefinitionJSON): keep the scrypt hash, and the export hash beside it
    for (const k of ["warren_password_hash", "password_hash"]) {
      if (!/^[A-Za-z0-9+/]+=*$/.test(body[k] as string)) throw badRequest(`${k} must be base64`);
    }
    hash = { passwordHash: body["warren_password_hash"], hashingAlgorithm: "warren_scrypt", ...(exportHashes ? { exportHash: body["password_hash"] } : {}) };
  } else if (typeof body["password_hash"] === "string") {
    const algo = (body["hashing_algorithm"] as string | undefined) ?? "rabbit_password_hashing_sha256";
    if (!ALGORITHMS.includes(algo)) throw badRequest(`unsupported hashing_algorithm '${algo}'`);
    if (body["password_hash"] !== "" && !/^[A-Za-z0-9+/]+=*$/.test(body["password_hash"])) throw badRequest("password_hash must be base64");
    hash = { passwordHash: body["password_hash"], hashingAlgorithm: algo as HashAlgorithm };
  } else if (existing) {
    hash = { passwordHash: existing.passwordHash, hashingAlgorithm: existing.hashingAlgorithm, ...(existing.exportHash ? { exportHash: existing.exportHash } : {}) };
  } else {
    // RabbitMQ: a user without password cannot log in with a password
    hash = { passwordHash: "", hashingAlgorithm: "warren_scrypt" };
  }
  // user limits: from the body (definitions carry them), else kept from the existing user
  let limits = existing?.limits;
  const bl = body["limits"];
  if (bl !== undefined && bl !== null) {
    if (typeof bl !== "object" || Array.isArray(bl) || !Object.values(bl).every((v) => Number.isInteger(v))) throw badRequest("limits must be an object of integers");
    limits = bl as Record<string, number>;
  }
  return command("user.add", { name, ...hash, tags, ...(limits && Object.keys(limits).length > 0 ? { limits } : {}) });
}

async function put(ctx: Ctx): Promise<void> {
  requireAdmin(ctx);
  const name = ctx.params[0]!;
  const body = await ctx.body();
  const existing = ctx.broker.users.get(name);
  ctx.broker.apply(userCommand(name, body, existing, ctx.broker.exportRabbitHashes), { origin: "http" });
  sendEmpty(ctx.res, existing ? 204 : 201);
}

function del(ctx: Ctx): void {
  requireAdmin(ctx);
  const name = ctx.params[0]!;
  getUser(ctx, name);
  ctx.broker.apply(command("user.delete", { name }), { origin: "http" });
  sendEmpty(ctx.res, 204);
}

async function bulkDelete(ctx: Ctx): Promise<void> {
  requireAdmin(ctx);
  const body = await ctx.body();
  const users = body["users"];
  if (!Array.isArray(users)) throw badRequest("users must be a list");
  for (const u of users) if (ctx.broker.users.has(String(u))) ctx.broker.apply(command("user.delete", { name: String(u) }), { origin: "http" });
  sendEmpty(ctx.res, 204);
}

function permissions(ctx: Ctx): void {
  requireAdmin(ctx);
  const u = getUser(ctx, ctx.params[0]!);
  sendJSON(ctx.res, 200, [...ctx.broker.permissions.values()].filter((p) => p.user === u.name).map(permissionJSON));
}

function topicPermissions(ctx: Ctx): void {
  requireAdmin(ctx);
  const u = getUser(ctx, ctx.params[0]!);
  sendJSON(ctx.res, 200, ctx.broker.topicPermissions.filter((p) => p.user === u.name).map(topicPermissionJSON));
}

export const routes: Route[] = [
  { method: "GET", path: "/api/users", handler: list },
  { method: "POST", path: "/api/users/bulk-delete", handler: bulkDelete },
  { method: "GET", path: "/api/users/:user", handler: show },
  { method: "PUT", path: "/api/users/:user", handler: put },
  { method: "DELETE", path: "/api/users/:user", handler: del },
  { method: "GET", path: "/api/users/:user/permissions", handler: permissions },
  { method: "GET", path: "/api/users/:user/topic-permissions", handler: topicPermissions },
];
