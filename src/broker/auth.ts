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
 * The weak export hash exists only when the operator asks for RabbitMQ-importable
 * exports (`--export-rabbit-hashes`, see Broker): it is a single salted SHA-256,
 * so anyone who reads it can guess passwords fast (docs/security.md).
 *
 * Verification runs scrypt on libuv's thread pool (never on the event loop: a
 * flood of wrong passwords must not stall established connections), one at a
 * time (see LoginGuard in login-guard.ts), and a success is cached (keyed by a
 * SHA-256 of the supplied password) so thousands of connections logging in do
 * not each pay for scrypt.
 *
 * Permissions are RabbitMQ's: three regexes (configure, write, read) per
 * user per vhost, anchored as Erlang's re:run does (unanchored search, so
 * ".*" and "^amq\\.gen.*" work as in RabbitMQ), plus topic permissions
 * (write/read regexes on routing keys per topic exchange). Every user-supplied
 * pattern is matched by a linear-time engine (lib/pattern.ts), never V8's
 * backtracking RegExp.
 */
import { createHash, randomBytes, scrypt, scryptSync, timingSafeEqual } from "node:crypto";
import { compilePattern, patternError, type Pattern } from "../lib/pattern.js";

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

const SCRYPT = { N: 16384, r: 8, p: 1 } as const;

/** A new scrypt hash; `withExportHash` adds the weak RabbitMQ-importable one (operator's opt-in). */
export function hashPassword(password: string, withExportHash = false): { passwordHash: string; hashingAlgorithm: HashAlgorithm; exportHash?: string } {
  const salt = randomBytes(16);
  const h = scryptSync(password, salt, 32, SCRYPT);
  return { passwordHash: Buffer.concat([salt, h]).toString("base64"), hashingAlgorithm: "warren_scrypt", ...(withExportHash ? { exportHash: rabbitSha256Hash(password) } : {}) };
}

function scryptAsync(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, 32, SCRYPT, (err, key) => (err ? reject(err) : resolve(key))));
}

/** RabbitMQ-compatible hash, for exporting definitions RabbitMQ can import. */
export function rabbitSha256Hash(password: string): string {
  const salt = randomBytes(4);
  const h = createHash("sha256")
    .update(Buffer.concat([salt, Buffer.from(password, "utf8")]))
    .digest();
  return Buffer.concat([salt, h]).toString("base64");
}

const verified = new Map<string, string>(); // user name + hash -> sha256(password)

/** True when the password was verified before (no hashing needed). */
export function knownGood(user: User, password: string): boolean {
  return verified.get(`${user.name}\u0000${user.passwordHash}`) === createHash("sha256").update(password).digest("hex");
}

/** Check a password; scrypt runs on the thread pool, the event loop stays free. */
export async function verifyPassword(user: User, password: string): Promise<boolean> {
  if (!user.passwordHash) return false; // users without password cannot log in with PLAIN
  const cacheKey = `${user.name}\u0000${user.passwordHash}`;
  const digest = createHash("sha256").update(password).digest("hex");
  if (verified.get(cacheKey) === digest) return true;
  const raw = Buffer.from(user.passwordHash, "base64");
  let ok = false;
  switch (user.hashingAlgorithm) {
    case "warren_scrypt": {
      if (raw.length !== 48) return false;
      const h = await scryptAsync(password, raw.subarray(0, 16));
      ok = timingSafeEqual(h, raw.subarray(16));
      break;
    }
    default: {
      const algo = user.hashingAlgorithm === "rabbit_password_hashing_sha512" ? "sha512" : user.hashingAlgorithm === "rabbit_password_hashing_md5" ? "md5" : "sha256";
      if (raw.length < 5) return false;
      const salt = raw.subarray(0, 4);
      const h = createHash(algo)
        .update(Buffer.concat([salt, Buffer.from(password, "utf8")]))
        .digest();
      ok = h.length === raw.length - 4 && timingSafeEqual(h, raw.subarray(4));
    }
  }
  if (ok) verified.set(cacheKey, digest);
  return ok;
}

const patternCache = new Map<string, Pattern | null>();

/**
 * Erlang re semantics: the pattern matches anywhere unless anchored; "" matches nothing
 * (RabbitMQ special case). A pattern the linear-time engine cannot compile (for example a
 * backreference stored by an older version) matches nothing.
 */
export function permits(pattern: string, resource: string): boolean {
  if (pattern === "") return false;
  let re = patternCache.get(pattern);
  if (re === undefined) {
    try {
      re = compilePattern(pattern);
    } catch {
      re = null;
    }
    if (patternCache.size > 10_000) patternCache.clear();
    patternCache.set(pattern, re);
  }
  return re !== null && re.test(resource);
}

/** undefined when `pattern` is usable, else why not (for a 400 that says so). */
export function invalidRegexReason(pattern: string): string | undefined {
  return patternError(pattern);
}

export function validRegex(pattern: string): boolean {
  return patternError(pattern) === undefined;
}
