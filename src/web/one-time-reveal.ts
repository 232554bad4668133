// A secret shown once after a POST (a new API key, new backup codes), without the POST response
// carrying it: the POST stores it here and redirects to a reveal URL, and the first GET of that URL
// takes it out. A reload then finds nothing, so it neither shows the secret again nor mints again.
//
// - The row is shared by every instance (the redirect may land on another one behind a balancer).
// - Nothing is at rest in clear: the payload is sealed by src/accounts/secret-box.ts under a key derived (HKDF)
//   from the random token in the URL, and the row is keyed by the token's SHA-256. The token itself
//   is never stored, so the database alone cannot open a reveal.
// - A reveal belongs to the browser session that made it: another session (or a logged-out one)
//   gets the same answer as for a token that never existed. Logging out deletes it (FK cascade).
// - It lives a few minutes; expired rows are swept whenever a new one is made.
import { hkdfSync, randomBytes } from "node:crypto";
import { z } from "zod";
import { createSecretBox } from "../accounts/secret-box.js";
import { tokenDigest } from "../accounts/token-digest.js";
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
/** The box that only this reveal's URL token opens: its key is derived (HKDF) from the token. */
const boxFor = (token: string) =>
  createSecretBox(Buffer.from(hkdfSync("sha256", Buffer.from(token), Buffer.alloc(0), "keyward one-time reveal", 32)));
/** The ciphertext is bound to its row and kind: copied onto another row it does not open. */
const context = (id: string, kind: RevealKind) => `${id}:${kind}`;

export function createOneTimeReveals(db: Db, ttlMs = REVEAL_TTL_MS) {
  return {
    /** Holds `payload` for the session; returns the token for the reveal URL. */
    async hold<K extends RevealKind>(sessionToken: string, kind: K, payload: RevealPayload<K>): Promise<string> {
      const now = new Date();
      await db.oneTimeReveal.deleteMany({ where: { expiresAt: { lte: now } } });
      const token = randomBytes(32).toString("base64url");
      const id = tokenDigest(token);
      const ciphertext = boxFor(token).seal(JSON.stringify(payload), context(id, kind));
      await db.oneTimeReveal.create({
        // The session row's id: src/accounts/sessions.ts keys sessions by the same digest of the cookie token.
        data: { id, sessionId: tokenDigest(sessionToken), kind, ciphertext, expiresAt: new Date(now.getTime() + ttlMs) },
      });
      return token;
    },

    /**
     * The payload, the first time this session asks; null afterwards, for another session, after
     * expiry, or for a token that never existed (one answer for all of them).
     */
    async take<K extends RevealKind>(sessionToken: string, kind: K, token: string): Promise<RevealPayload<K> | null> {
      if (!TOKEN.test(token)) return null;
      const id = tokenDigest(token);
      const row = await db.oneTimeReveal.findUnique({ where: { id } });
      if (!row || row.kind !== kind || row.sessionId !== tokenDigest(sessionToken)) return null;
      // Whoever deletes the row shows it: two racing reloads cannot both see the secret.
      const { count } = await db.oneTimeReveal.deleteMany({ where: { id, sessionId: row.sessionId } });
      if (count !== 1 || row.expiresAt <= new Date()) return null;
      const plain = boxFor(token).open(row.ciphertext, context(id, kind));
      if (plain === null) return null;
      const parsed = payloads[kind].safeParse(JSON.parse(plain));
      return parsed.success ? (parsed.data as RevealPayload<K>) : null;
    },
  };
}

export type OneTimeReveals = ReturnType<typeof createOneTimeReveals>;
