// Why a connection step failed, as data (one case per kind of failure) and in plain words. Every
// reason the doctor shows and every error_description it writes comes from describe(): one function
// from a typed failure, never a matched error message. The same words go to the person on the
// connection doctor page, the operator (`keyward doctor`) and the client (error_description).

export type ConnectionFailure =
  /** A key bound to other resources was sent to this one; `resourceSent: false`: the authorization named none. */
  | { kind: "wrong_resource"; boundTo: string[]; calling: string; oauth: boolean; resourceSent?: boolean }
  /** `builtIn`: Keyward's own /mcp, whose gateway resources are `${builtIn}/<slug>`. */
  | { kind: "unknown_resource"; resource: string; builtIn: string }
  | { kind: "no_resource"; defaultResource: string }
  | { kind: "pkce_mismatch" }
  | { kind: "pkce_missing" }
  // redirectUri null: the words for the answer itself, which do not repeat the URI asked for
  | { kind: "redirect_not_registered"; redirectUri: string | null; registered: string[] }
  | { kind: "code_redirect_mismatch" }
  | { kind: "code_expired" }
  | { kind: "revoked"; revokedAt: Date; now: Date }
  | { kind: "expired"; expiresAt: Date; now: Date }
  | { kind: "missing_scope"; scope: string; tool: string | undefined }
  | { kind: "consent_denied" }
  | { kind: "key_refused"; words: string }
  | { kind: "oauth_error"; error: string; description: string | undefined };

/** "just now", "2 minutes ago", "3 hours ago", "5 days ago". */
export function ago(then: Date, now: Date): string {
  const seconds = Math.max(0, Math.round((now.getTime() - then.getTime()) / 1000));
  if (seconds < 60) return "just now";
  const [n, unit] =
    seconds < 3600
      ? [Math.floor(seconds / 60), "minute"]
      : seconds < 86_400
        ? [Math.floor(seconds / 3600), "hour"]
        : [Math.floor(seconds / 86_400), "day"];
  return `${n} ${unit}${n === 1 ? "" : "s"} ago`;
}

const list = (urls: string[]) => urls.join(" and ");

export function describe(f: ConnectionFailure): string {
  switch (f.kind) {
    case "wrong_resource":
      if (f.resourceSent === false)
        return `The key was issued for another resource: the client sent no resource parameter, so its key is for ${list(f.boundTo)}, but it is calling ${f.calling}`;
      return f.oauth
        ? `The key was issued for another resource: the client asked for resource ${list(f.boundTo)} but is calling ${f.calling}`
        : `The key was issued for another resource: it is bound to ${list(f.boundTo)} but was sent to ${f.calling}`;
    case "unknown_resource":
      return `The client asked for resource ${f.resource || "(empty)"}, which this server does not issue keys for: it issues them for ${f.builtIn}, for the resources of its gateway (${f.builtIn}/<slug>) and for the resource servers registered with it`;
    case "no_resource":
      return `The client sent no resource parameter: its key is for ${f.defaultResource} only`;
    case "pkce_mismatch":
      return "code_verifier did not match the code_challenge of the authorization request";
    case "pkce_missing":
      return "The client sent no code_verifier, but the authorization request used PKCE";
    case "redirect_not_registered":
      return `${f.redirectUri === null ? "The redirect URI sent is not registered for this client" : `Redirect URI not registered: ${f.redirectUri}`} (registered: ${f.registered.length ? f.registered.join(", ") : "none"})`;
    case "code_redirect_mismatch":
      return "The redirect_uri sent with the code is not the one of the authorization request";
    case "code_expired":
      return "The authorization code has expired: codes must be exchanged within 2 minutes";
    case "revoked":
      return `The key has been revoked (${ago(f.revokedAt, f.now)})`;
    case "expired":
      return `The key has expired (${ago(f.expiresAt, f.now)})`;
    case "missing_scope":
      return f.tool ? `This key lacks the ${f.scope} scope (needed for ${f.tool})` : `This key lacks the ${f.scope} scope`;
    case "consent_denied":
      return "The user denied the authorization request";
    case "key_refused":
      return f.words;
    case "oauth_error":
      return f.description ? `${f.error}: ${f.description}` : f.error;
  }
}
