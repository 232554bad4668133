// A secret shown once after a POST (a new API key, new backup codes), without the POST response
// carrying it: the POST stores it here and redirects to a reveal URL, and the first GET of that URL
// takes it out. A reload then finds nothing, so it neither shows the secret again nor mints again.
//
// - The row is shared by every instance (the redirect may land on another one behind a balancer).
// - Nothing is at rest in clear: the payload is AES-256-GCM ciphertext under a key derived (HKDF)
//   from the random token in the URL, and the row is keyed by the token's SHA-256. The token itself
//   is never stored, so the database alone cannot open a reveal.
// - A reveal belongs to the browser session that made it: another session (or a logged-out one)
//   gets the same answer as for a token that never existed. Logging out deletes it (FK cascade).
// - It lives a few minutes; expired rows are swept whenever a new one is made.
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from "node:crypto";
import { z } from "zod";
import type { Db } from "../db/client.js";

export const REVEAL_TTL_MS = 5 * 60_000;

/** What each kind of reveal holds. The API key's facts are read from the key row when shown. */
const payloads = {
  api_key: z.object({ raw: z.string(), keyId: z.string() }),
  backup_codes: z.object({ codes: z.array(z.string()), notice: z.string() }),
};
export type RevealKind = keyof typeof payloads;
export type RevealPayload<K extends RevealKind> = z.infer<(typeof payloads)[K]>;

const TOKEN = /^[A-Za-z0-9_-]{43}$/; // 32 random bytes, base64url
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
/** The session row's id (src/accounts/sessions.ts keys sessions by the SHA-256 of the cookie token). */
const sessionRowId = (sessionToken: string) => sha256(sessionToken);
const keyFor = (token: string) => Buffer.from(hkdfSync("sha256", Buffer.from(token), Buffer.alloc(0), "keyward one-time reveal", 32));

function seal(token: string, id: string, kind: RevealKind, plain: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keyFor(token), iv);
  cipher.setAAD(Buffer.from(`${id}:${kind}`));
  const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
}

function open(token: string, id: string, kind: RevealKind, sealed: string): string | null {
  try {
    const bytes = Buffer.from(sealed, "base64url");
    const decipher = createDecipheriv("aes-256-gcm", keyFor(token), bytes.subarray(0, 12));
    decipher.setAAD(Buffer.from(`${id}:${kind}`));
    decipher.setAuthTag(bytes.subarray(12, 28));
    return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString("utf8");
  } catch {
    return null;
  }
}

export function createOneTimeReveals(db: Db, ttlMs = REVEAL_TTL_MS) {
  return {
    /** Holds `payload` for the session; returns the token for the reveal URL. */
    async hold<K extends RevealKind>(sessionToken: string, kind: K, payload: RevealPayload<K>): Promise<string> {
      const now = new Date();
      await db.oneTimeReveal.deleteMany({ where: { expiresAt: { lte: now } } });
      const token = randomBytes(32).toString("base64url");
      const id = sha256(token);
      const ciphertext = seal(token, id, kind, JSON.stringify(payload));
      await db.oneTimeReveal.create({
        data: { id, sessionId: sessionRowId(sessionToken), kind, ciphertext, expiresAt: new Date(now.getTime() + ttlMs) },
      });
      return token;
    },

    /**
     * The payload, the first time this session asks; null afterwards, for another session, after
     * expiry, or for a token that never existed (one answer for all of them).
     */
    async take<K extends RevealKind>(sessionToken: string, kind: K, token: string): Promise<RevealPayload<K> | null> {
      if (!TOKEN.test(token)) return null;
      const id = sha256(token);
      const row = await db.oneTimeReveal.findUnique({ where: { id } });
      if (!row || row.kind !== kind || row.sessionId !== sessionRowId(sessionToken)) return null;
      // Whoever deletes the row shows it: two racing reloads cannot both see the secret.
      const { count } = await db.oneTimeReveal.deleteMany({ where: { id, sessionId: row.sessionId } });
      if (count !== 1 || row.expiresAt <= new Date()) return null;
      const plain = open(token, id, kind, row.ciphertext);
      if (plain === null) return null;
      const parsed = payloads[kind].safeParse(JSON.parse(plain));
      return parsed.success ? (parsed.data as RevealPayload<K>) : null;
    },
  };
}

export type OneTimeReveals = ReturnType<typeof createOneTimeReveals>;
