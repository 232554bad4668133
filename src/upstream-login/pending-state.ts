// The browser's side of an upstream log-in (or link, ./link-routes.ts) in progress: state, nonce and
// PKCE verifier, the provider it was started for, where to go afterwards and, for a link or a
// confirmation, whose; in
// one cookie sealed with AES-256-GCM (the key derived from the cookie secrets, src/secrets.ts), so
// the browser can neither read nor change it.
// HttpOnly, SameSite=Lax (the provider's redirect back is a top-level GET, which carries it), path
// /login/upstream, ten minutes, and cleared by the callback that reads it: used once.
import { hkdfSync } from "node:crypto";
import { z } from "zod";
import { createSecretBox, type SecretBox } from "../accounts/secret-box.js";
import type { Ctx } from "../http/state.js";
import { allowSecureCookies, cookieOptions } from "../web/session.js";

export const PENDING_COOKIE = "kw_upstream";
const COOKIE_PATH = "/login/upstream";
const CONTEXT = "keyward upstream log-in";
export const PENDING_TTL_MS = 10 * 60_000;

const pendingSchema = z.object({
  provider: z.string(),
  state: z.string(),
  nonce: z.string(),
  verifier: z.string(),
  returnTo: z.string(),
  /**
   * Set when a signed-in person started it from their sign-in methods page: the callback then links the
   * identity to this account, and only while this very session is the browser's (never logs in).
   */
  link: z.object({ userId: z.string(), session: z.string() }).optional(),
  /**
   * Set when a signed-in person asked to confirm it is them (no password to ask for): the callback then
   * records a fresh authentication on this very session, when the provider vouched for the identity the
   * account has linked, just now (never logs in).
   */
  confirm: z.object({ userId: z.string(), session: z.string() }).optional(),
  expiresAt: z.number(),
});

export type PendingUpstreamLogin = z.output<typeof pendingSchema>;

export interface PendingStates {
  set(ctx: Ctx, pending: Omit<PendingUpstreamLogin, "expiresAt">): void;
  /** The pending log-in this browser started, when it is live and sealed by us; the cookie is cleared either way. */
  take(ctx: Ctx): PendingUpstreamLogin | null;
}

/** `cookieSecrets`: newest first; a cookie sealed with an older one still opens. */
export function pendingStates(cookieSecrets: readonly string[], secure: boolean): PendingStates {
  const boxes: SecretBox[] = cookieSecrets.map((secret) => createSecretBox(Buffer.from(hkdfSync("sha256", secret, "", CONTEXT, 32))));
  const clear = (ctx: Ctx) => {
    allowSecureCookies(ctx, secure);
    ctx.cookies.set(PENDING_COOKIE, "", { ...cookieOptions(secure), path: COOKIE_PATH, expires: new Date(0) });
  };
  return {
    set(ctx, pending) {
      const expiresAt = Date.now() + PENDING_TTL_MS;
      const sealed = boxes[0]!.seal(JSON.stringify({ ...pending, expiresAt }), CONTEXT);
      allowSecureCookies(ctx, secure);
      ctx.cookies.set(PENDING_COOKIE, sealed, { ...cookieOptions(secure, new Date(expiresAt)), path: COOKIE_PATH });
    },
    take(ctx) {
      const sealed = ctx.cookies.get(PENDING_COOKIE);
      if (!sealed) return null;
      clear(ctx);
      if (sealed.length > 4000) return null;
      for (const box of boxes) {
        const text = box.open(sealed, CONTEXT);
        if (text === null) continue;
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          return null;
        }
        const parsed = pendingSchema.safeParse(json);
        return parsed.success && parsed.data.expiresAt > Date.now() ? parsed.data : null;
      }
      return null;
    },
  };
}
