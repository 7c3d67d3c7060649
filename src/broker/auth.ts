/**
 * Users, password hashing and permissions.
 *
 * Hashes: new passwords are stored as `warren_scrypt` (scrypt, 16-byte salt),
 * which is what warren verifies. RabbitMQ's `rabbit_password_hashing_sha256` /
 * `_sha512` / `_md5` hashes (base64(salt4 ‖ H(salt4 ‖ password))) are accepted on
 * import so users move from RabbitMQ with their passwords. For the other direction
 * each user also carries `exportHash`, the same password as RabbitMQ's default
 * salted SHA-256 (RabbitMQ cannot use scrypt and never sees the password): it is
 * what a definitions export gives RabbitMQ, and no stronger than what RabbitMQ's
 * own export contains. It is made when the password is set, or at the first
 * successful login of a user that predates it.
 *
 * A successful verification is cached (keyed by a SHA-256 of the supplied
 * password) so thousands of connections logging in do not each pay for scrypt.
 *
 * Permissions are RabbitMQ's: three regexes (configure, write, read) per
 * user per vhost, anchored as Erlang's re:run does (unanchored search, so
 * ".*" and "^amq\\.gen.*" work as in RabbitMQ), plus topic permissions
 * (write/read regexes on routing keys per topic exchange).
 */
import { createHash, randomBytes, scryptSync, timingSafeEqual } from "node:crypto";

export type HashAlgorithm = "warren_scrypt" | "rabbit_password_hashing_sha256" | "rabbit_password_hashing_sha512" | "rabbit_password_hashing_md5";

export interface User {
  name: string;
  passwordHash: string;
  hashingAlgorithm: HashAlgorithm;
  tags: string[];
  limits?: Record<string, number>;
  /** the password as rabbit_password_hashing_sha256, for definitions exported to RabbitMQ */
  exportHash?: string;
}

export interface Permission {
  user: string;
  vhost: string;
  configure: string;
  write: string;
  read: string;
}

export interface TopicPermission {
  user: string;
  vhost: string;
  exchange: string;
  write: string;
  read: string;
}

export type PermissionKind = "configure" | "write" | "read";

export function hashPassword(password: string): { passwordHash: string; hashingAlgorithm: HashAlgorithm; exportHash: string } {
  const salt = randomBytes(16);
  const h = scryptSync(password, salt, 32, { N: 16384, r: 8, p: 1 });
  return { passwordHash: Buffer.concat([salt, h]).toString("base64"), hashingAlgorithm: "warren_scrypt", exportHash: rabbitSha256Hash(password) };
}

/** RabbitMQ-compatible hash, for exporting definitions RabbitMQ can import. */
export function rabbitSha256Hash(password: string): string {
  const salt = randomBytes(4);
  const h = createHash("sha256").update(Buffer.concat([salt, Buffer.from(password, "utf8")])).digest();
  return Buffer.concat([salt, h]).toString("base64");
}

const verified = new Map<string, string>(); // user name + hash -> sha256(password)

export function verifyPassword(user: User, password: string): boolean {
  if (!user.passwordHash) return false; // users without password cannot log in with PLAIN
  const cacheKey = `${user.name}\u0000${user.passwordHash}`;
  const digest = createHash("sha256").update(password).digest("hex");
  if (verified.get(cacheKey) === digest) return true;
  const raw = Buffer.from(user.passwordHash, "base64");
  let ok = false;
  switch (user.hashingAlgorithm) {
    case "warren_scrypt": {
      if (raw.length !== 48) return false;
      const h = scryptSync(password, raw.subarray(0, 16), 32, { N: 16384, r: 8, p: 1 });
      ok = timingSafeEqual(h, raw.subarray(16));
      break;
    }
    default: {
      const algo = user.hashingAlgorithm === "rabbit_password_hashing_sha512" ? "sha512" : user.hashingAlgorithm === "rabbit_password_hashing_md5" ? "md5" : "sha256";
      if (raw.length < 5) return false;
      const salt = raw.subarray(0, 4);
      const h = createHash(algo).update(Buffer.concat([salt, Buffer.from(password, "utf8")])).digest();
      ok = h.length === raw.length - 4 && timingSafeEqual(h, raw.subarray(4));
    }
  }
  if (ok) verified.set(cacheKey, digest);
  return ok;
}

const regexCache = new Map<string, RegExp | null>();

/** Erlang re semantics: the regex matches anywhere unless anchored; "" matches nothing (RabbitMQ special case). */
export function permits(pattern: string, resource: string): boolean {
  if (pattern === "") return false;
  let re = regexCache.get(pattern);
  if (re === undefined) {
    try {
      re = new RegExp(pattern);
    } catch {
      re = null;
    }
    regexCache.set(pattern, re);
  }
  return re !== null && re.test(resource);
}

export function validRegex(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}
