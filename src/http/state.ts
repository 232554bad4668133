import type { ParameterizedContext } from "koa";
import type { ActiveSession } from "../accounts/sessions.js";
import type { PublicUser } from "../accounts/users.js";
import type { KeyView } from "../keys/index.js";
import type { Role } from "../orgs/roles.js";

export interface KeywardState {
  /** The browser session, when the request carries a valid session cookie. */
  session?: ActiveSession & { token: string };
  /** Who the request acts for: by a verified key, or (JSON API only) by a browser session. */
  auth?: KeyAuth | AppAuth | SessionAuth;
  /** The CSRF token forms on this page must carry. */
  csrfToken?: string;
}

export type Ctx = ParameterizedContext<KeywardState>;

/** A user's key: acts for the user, in the key's organisation, with the key's effective scopes. */
export interface KeyAuth {
  via: "key";
  user: PublicUser;
  app: null;
  organizationId: string;
  /** The user's role in that organisation, read on this request. */
  role: Role | null;
  key: KeyView;
  /** Effective scopes (implications expanded, capped by the role); see src/keys/verify/resolve-scopes.ts. */
  scopes: readonly string[];
}

/** An app key: acts for the organisation's app, not for a person. */
export interface AppAuth {
  via: "app";
  user: null;
  app: { id: string; name: string };
  organizationId: string;
  role: null;
  key: KeyView;
  scopes: readonly string[];
}

/** The JSON API with a browser session (no key: the user's full access, personal organisation). */
export interface SessionAuth {
  via: "session";
  user: PublicUser;
  key: null;
}
