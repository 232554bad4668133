// Secrets made on first start and kept in the database, so a restart (or a second instance) uses
// the same ones. "Key" in this code base means an API key; these are named apart:
//   - cookie secrets: sign Keyward's and oidc-provider's cookies (Koa's `app.keys`, oidc-provider's `cookies.keys`);
//   - the token-signing JWKS: the private JSON Web Key Set oidc-provider signs with (its `jwks`);
//   - the TOTP encryption secret: encrypts TOTP secrets at rest and keys the backup-code HMAC.
// The names of the stored rows ("cookie-keys", "oidc-jwks", "totp-encryption-key") are what
// existing databases hold: they never change.
import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import type { Db } from "./db/client.js";

/** Returns the stored value, creating it once; concurrent first starts agree on one value. */
export async function getOrCreateSecret(db: Db, name: string, make: () => string): Promise<string> {
  const existing = await db.secret.findUnique({ where: { name } });
  if (existing) return existing.value;
  try {
    return (await db.secret.create({ data: { name, value: make() } })).value;
  } catch {
    // Another instance created it first.
    const row = await db.secret.findUnique({ where: { name } });
    if (!row) throw new Error(`could not create secret ${name}`);
    return row.value;
  }
}

/** The cookie-signing secrets (newest first): COOKIE_SECRET, or one made once and stored. */
export async function cookieSecrets(db: Db, fromConfig?: string): Promise<string[]> {
  if (fromConfig) return [fromConfig];
  const value = await getOrCreateSecret(db, "cookie-keys", () => JSON.stringify([randomBytes(32).toString("base64url")]));
  return JSON.parse(value) as string[];
}

/** A private JSON Web Key Set, as oidc-provider's `jwks` setting takes it. */
export interface PrivateJwks {
  keys: Record<string, unknown>[];
}

const rsaKey = () => {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { ...privateKey.export({ format: "jwk" }), kid: randomUUID(), use: "sig", alg: "RS256" };
};
const ed25519Key = () => {
  const { privateKey } = generateKeyPairSync("ed25519");
  return { ...privateKey.export({ format: "jwk" }), kid: randomUUID(), use: "sig", alg: "EdDSA" };
};

/**
 * The JWKS oidc-provider signs ID tokens and other JWTs with, made once and stored: an RS256 key (the
 * default every client accepts) and an Ed25519 one, which signs the gateway's per-request assertion
 * (src/gateway/assertion.ts) about twenty times faster. A set stored before the Ed25519 key existed
 * gets one added once, compare-and-swap, so concurrent first starts publish one and the same set.
 */
export async function tokenSigningJwks(db: Db): Promise<PrivateJwks> {
  const value = await getOrCreateSecret(db, "oidc-jwks", () => JSON.stringify({ keys: [rsaKey(), ed25519Key()] }));
  const jwks = JSON.parse(value) as PrivateJwks;
  if (jwks.keys.some((k) => k.kty === "OKP")) return jwks;
  const added = JSON.stringify({ keys: [...jwks.keys, ed25519Key()] });
  const { count } = await db.secret.updateMany({ where: { name: "oidc-jwks", value }, data: { value: added } });
  if (count === 1) return JSON.parse(added) as PrivateJwks;
  // Another instance added its own first: use the set as stored.
  const row = await db.secret.findUnique({ where: { name: "oidc-jwks" } });
  return JSON.parse(row!.value) as PrivateJwks;
}

/** The 32-byte AES-256-GCM secret for TOTP secrets (and the backup codes' HMAC): TOTP_ENCRYPTION_KEY, or made once. */
export async function totpEncryptionSecret(db: Db, fromConfig?: string): Promise<Buffer> {
  const value = fromConfig ?? (await getOrCreateSecret(db, "totp-encryption-key", () => randomBytes(32).toString("base64")));
  const secret = Buffer.from(value, "base64");
  if (secret.length !== 32) throw new Error("the TOTP encryption secret must be 32 bytes");
  return secret;
}
