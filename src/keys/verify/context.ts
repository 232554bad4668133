import type { ApiKey, User } from "../../generated/sqlite/client.js";

export type VerifyFailure = "invalid_format" | "unknown_key" | "revoked" | "wrong_resource";

/** What the steps read and fill in, in order. */
export interface VerifyContext {
  readonly raw: string;
  /** The resource (RFC 8707 audience) the request is for; a key bound to another one is refused. */
  readonly resource?: string;
  hash?: string;
  row?: ApiKey & { user: User };
}

/** One check: returns a failure to stop the chain, nothing to continue. */
export type VerifyStep = (ctx: VerifyContext) => Promise<VerifyFailure | undefined> | VerifyFailure | undefined;
