import type { ParameterizedContext } from "koa";
import type { ActiveSession } from "../accounts/sessions.js";
import type { PublicUser } from "../accounts/users.js";
import type { KeyView } from "../keys/index.js";

export interface KeywardState {
  /** The browser session, when the request carries a valid session cookie. */
  session?: ActiveSession & { token: string };
  /** Who the request acts for: by a verified key, or (JSON API only) by a browser session. */
  auth?: { user: PublicUser; key: KeyView; via: "key" } | { user: PublicUser; key: null; via: "session" };
  /** The CSRF token forms on this page must carry. */
  csrfToken?: string;
}

export type Ctx = ParameterizedContext<KeywardState>;
