// Secrets made on first start and kept in the database, so a restart (or a second instance)
// uses the same ones: cookie signing keys and the OAuth signing keys (JWKS).
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

export async function cookieKeys(db: Db, fromConfig?: string): Promise<string[]> {
  if (fromConfig) return [fromConfig];
  const value = await getOrCreateSecret(db, "cookie-keys", () => JSON.stringify([randomBytes(32).toString("base64url")]));
  return JSON.parse(value) as string[];
}

export interface PrivateJwks {
  keys: Record<string, unknown>[];
}

export async function signingKeys(db: Db): Promise<PrivateJwks> {
  const value = await getOrCreateSecret(db, "oidc-jwks", () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const jwk = privateKey.export({ format: "jwk" });
    return JSON.stringify({ keys: [{ ...jwk, kid: randomUUID(), use: "sig", alg: "RS256" }] });
  });
  return JSON.parse(value) as PrivateJwks;
}

/** The AES-256-GCM key for TOTP secrets (and the HMAC key of backup codes): from config, or made once. */
export async function totpKey(db: Db, fromConfig?: string): Promise<Buffer> {
  const value = fromConfig ?? (await getOrCreateSecret(db, "totp-encryption-key", () => randomBytes(32).toString("base64")));
  const key = Buffer.from(value, "base64");
  if (key.length !== 32) throw new Error("the TOTP encryption key must be 32 bytes");
  return key;
}
