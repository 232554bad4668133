// Audit events in plain words, for the activity page: what happened, who did it ("You" for the
// viewer), the facts in a sentence, and the browser as "Chrome on macOS". Presentation only: the
// stored events keep their machine names and raw facts.
import Bowser from "bowser";
import type { AuditEventView } from "./index.js";

/** Every event kind Keyward writes, in words (also the choices of the activity page's filter). */
export const EVENT_KINDS: Readonly<Record<string, string>> = {
  "key.minted": "API key created",
  "key.revoked": "API key revoked",
  "key.renamed": "API key renamed",
  "key.leak_reported": "Revoked key reported as leaked",
  "key.limits_changed": "API key limits changed",
  "oauth.limits_changed": "App key limits changed",
  "key.rolled": "API key rolled",
  "oauth.authorized": "App authorized (OAuth consent)",
  "oauth.disconnected": "App disconnected",
  "oauth.registration_superseded": "App registered again (its earlier registration's keys moved to the new one)",
  "login.succeeded": "Logged in",
  "login.failed": "Failed log-in",
  "signup.email_taken": "Sign-up attempted with your email (nothing was changed)",
  "2fa.enabled": "Two-factor authentication turned on",
  "2fa.disabled": "Two-factor authentication turned off",
  "2fa.backup_code_used": "Backup code used",
  "2fa.backup_codes_regenerated": "New backup codes made",
  "password.changed": "Password changed",
  "password.reset": "Password reset with a link mailed to you",
  "email.verified": "Email address confirmed",
  "sessions.signed_out_everywhere": "Signed out everywhere",
  "org.created": "Organisation created",
  "org.member_invited": "Member invited to an organisation",
  "org.member_added": "Added to an organisation",
  "org.member_removed": "Removed from an organisation",
  "org.role_changed": "Organisation role changed",
  "org.invitation_revoked": "Invitation withdrawn",
  "org.invitation_accepted": "Invitation accepted",
  "org.invitation_declined": "Invitation declined",
  "org.key_policy_changed": "Organisation key lifetime policy changed",
  "app.created": "Organisation app created",
  "resource.added": "Protected MCP server added",
  "resource.updated": "Protected MCP server changed",
  "resource.removed": "Protected MCP server removed",
  "resource.credentials_rotated": "Resource server credentials replaced",
  // Issue 29: upstream identity providers (src/upstream-login/).
  "upstream.account_created": "Account created by logging in with an identity provider",
  "upstream.linked": "Identity provider log-in linked to your account",
  "identity.linked": "Sign-in method linked (an identity provider)",
  "identity.unlinked": "Sign-in method unlinked (an identity provider)",
  "reauth.upstream": "Confirmed it was you with an identity provider (to change sign-in methods)",
  // Operators (src/admin/)
  "user.signed_up": "Account created (sign-up)",
  "user.created": "Account created on the server (keyward users create)",
  "user.disabled": "Account disabled by an administrator",
  "user.enabled": "Account enabled again by an administrator",
  "2fa.reset": "Two-factor authentication reset by an administrator",
  "admin.granted": "Made an administrator of this server",
  "admin.revoked": "No longer an administrator of this server",
  "oauth_client.blocked": "OAuth client blocked by an administrator",
  "oauth_client.unblocked": "OAuth client unblocked by an administrator",
  "oauth_client.deleted": "OAuth client deleted its registration",
};

/** Where a key event came from (src/audit/key-events.ts KeyEventVia), as the end of a sentence. */
const VIA: Readonly<Record<string, string>> = {
  page: "on the API keys page",
  api: "through the JSON API",
  cli: "with the keyward command on the server",
  org_member_keys: "by an organisation admin",
  org_app_keys: "for an organisation app",
  oauth_token: "when an app connected through OAuth",
  oauth_revocation: "by the app (token revocation)",
  oauth_grant_revoked: "because its OAuth grant was revoked",
  oauth_client_deleted: "because the app deleted its registration",
  connected_apps: "when the app was disconnected",
  secret_scanning: "after secret scanning reported it leaked",
  resource_removed: "because the MCP server it was for was removed",
};

const LOGIN_METHODS: Readonly<Record<string, string>> = {
  password: "with your password",
  "password+totp": "with your password and an authenticator code",
  "password+backup_code": "with your password and a backup code",
};

const FAILED_LOGINS: Readonly<Record<string, string>> = {
  password: "Wrong password",
  second_factor: "Right password, wrong two-factor code",
  disabled: "Right password, but the account is disabled",
};

const ROLES: Readonly<Record<string, string>> = { owner: "owner", admin: "admin", member: "member", viewer: "viewer" };

/** What the page knows besides the event: who is looking, and the names of their organisations. */
export interface DescribeContext {
  viewerId: string;
  orgNames: ReadonlyMap<string, string>;
}

export interface DescribedEvent {
  what: string;
  by: string;
  summary: string;
  /** "Chrome on macOS", "curl", or "" when unknown. */
  client: string;
}

/** "backupCodesLeft" → "backup codes left". */
const words = (name: string) =>
  name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/[_.]+/g, " ")
    .toLowerCase();
const text = (v: unknown): string => (v === null || v === undefined ? "" : String(v));
const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** A kind nobody named yet still reads as words: "app_key.minted" → "App key minted". */
export function kindInWords(action: string): string {
  const known = EVENT_KINDS[action];
  if (known) return known;
  const plain = words(action);
  return plain.charAt(0).toUpperCase() + plain.slice(1);
}

export function describeUserAgent(ua: string | null): string {
  if (!ua) return "";
  const parsed = Bowser.parse(ua);
  const browser = parsed.browser.name ?? "";
  const os = parsed.os.name ?? "";
  if (browser) return os ? `${browser} on ${os}` : browser;
  // Not a browser (curl, an SDK, the keyward CLI): its first product name.
  const product = /^[A-Za-z][\w.-]*/.exec(ua)?.[0] ?? "";
  return product || "Unknown client";
}

function byWhom(e: AuditEventView, ctx: DescribeContext): string {
  const self = e.actorId === ctx.viewerId;
  switch (e.actorType) {
    case "user":
      if (!e.actorId) return "Someone (not logged in)";
      return self ? "You" : "Another user";
    case "org_admin":
      return self ? "You (as organisation admin)" : "An organisation admin";
    case "api_key":
      return "An API key";
    case "cli":
      return "The server operator (command line)";
    case "oauth_client":
      return "An app (OAuth)";
    case "secret_scanning":
      return "Secret scanning";
    case "system":
      return "Keyward";
    default:
      return words(e.actorType);
  }
}

function orgName(id: unknown, ctx: DescribeContext): string {
  const name = typeof id === "string" ? ctx.orgNames.get(id) : undefined;
  return name ? `“${name}”` : "an organisation";
}

function keyDetails(e: AuditEventView, ctx: DescribeContext): string {
  const d = e.details;
  const parts = [`“${text(d.label) || "Untitled key"}” ending in ${text(d.last4)}`];
  if (e.action === "key.renamed" && d.previousLabel !== undefined) parts.push(`was “${text(d.previousLabel) || "Untitled key"}”`);
  const via =
    d.via === "resource_removed" && d.resource
      ? `because the MCP server it was for (/mcp/${text(d.resource)}) was removed`
      : VIA[text(d.via)];
  if (via) parts.push(via);
  const scopes = text(d.scopes);
  if (e.action === "key.minted") parts.push(scopes ? `scopes ${scopes}` : d.source === "oauth" ? "no scopes" : "full access");
  if (d.appId) parts.push(`an app key in ${orgName(d.organizationId, ctx)}`);
  else if (d.organizationId && ctx.orgNames.has(text(d.organizationId))) parts.push(`in ${orgName(d.organizationId, ctx)}`);
  if (d.clientId) parts.push(`app ${text(d.clientId)}`);
  if (d.url) parts.push(`found at ${text(d.url)}`);
  if (e.action === "key.rolled" && d.replacementId) parts.push(`replaced by ${text(d.replacementId)}, works until ${text(d.endsAt)}`);
  if (e.action === "key.minted" && d.rolledFrom) parts.push(`replaces ${text(d.rolledFrom)}`);
  return parts.join(", ");
}

function detailsOf(e: AuditEventView, ctx: DescribeContext): string {
  const d = e.details;
  const n = (v: unknown) => (typeof v === "number" ? v : Number(v) || 0);
  switch (e.action) {
    case "key.minted":
    case "key.revoked":
    case "key.renamed":
    case "key.leak_reported":
    case "key.rolled":
      return keyDetails(e, ctx);
    case "key.limits_changed":
      return [keyDetails(e, ctx), limitsInWords(d)].filter(Boolean).join("; ");
    case "oauth.limits_changed":
      return `App ${text(e.targetId)}: ${limitsInWords(d)}; ${plural(n(d.keysChanged), "key", "keys")} changed`;
    case "oauth.authorized":
      return [
        `${d.clientName ? `“${text(d.clientName)}”` : "An app"} (${text(e.targetId)})`,
        text(d.scopes) ? `may use ${text(d.scopes)}` : "with no scopes",
        d.resource ? `on ${text(d.resource)}` : "",
      ]
        .filter(Boolean)
        .join(" ");
    case "oauth.disconnected":
      return `App ${text(e.targetId)}: ${plural(n(d.keysRevoked), "key", "keys")} revoked`;
    case "oauth.registration_superseded":
      return `App ${text(e.targetId)} replaces ${text(d.previousClientId)}: ${plural(n(d.keysMoved), "key", "keys")} moved${d.previousDeleted ? ", the old registration deleted" : ""}`;
    case "login.succeeded":
      return d.method === "upstream" ? `with ${text(d.providerName) || "an identity provider"}` : (LOGIN_METHODS[text(d.method)] ?? "");
    case "login.failed":
      return d.reason === "upstream"
        ? `With ${text(d.providerName) || "an identity provider"}: refused (${words(text(d.refusal))})`
        : (FAILED_LOGINS[text(d.reason)] ?? "");
    case "upstream.account_created":
    case "upstream.linked":
    case "identity.linked":
    case "identity.unlinked":
    case "reauth.upstream":
      return `${text(d.providerName)} (${text(d.provider)})`;
    case "2fa.backup_code_used":
      return `${plural(n(d.backupCodesLeft), "backup code", "backup codes")} left`;
    case "password.changed":
      return `${plural(n(d.otherSessionsEnded), "other browser session", "other browser sessions")} signed out`;
    case "sessions.signed_out_everywhere":
      return `${plural(n(d.sessionsEnded), "browser session", "browser sessions")} ended`;
    case "org.created":
      return `“${text(d.name)}”`;
    case "org.member_invited":
      return `${text(d.email)} invited to ${orgName(e.targetId, ctx)} as ${ROLES[text(d.role)] ?? text(d.role)}`;
    case "org.invitation_revoked":
      return `The invitation of ${text(d.email)} to ${orgName(e.targetId, ctx)}`;
    case "org.invitation_accepted":
      return `Joined ${orgName(e.targetId, ctx)} as ${ROLES[text(d.role)] ?? text(d.role)}`;
    case "org.invitation_declined":
      return `The invitation to ${orgName(e.targetId, ctx)}`;
    case "org.member_added":
      return `To ${orgName(e.targetId, ctx)} as ${ROLES[text(d.role)] ?? text(d.role)}`;
    case "org.role_changed":
      return `Now ${ROLES[text(d.role)] ?? text(d.role)} in ${orgName(e.targetId, ctx)}`;
    case "org.member_removed":
      return `From ${orgName(e.targetId, ctx)}`;
    case "org.key_policy_changed":
      return d.maxKeyLifetimeDays === null || d.maxKeyLifetimeDays === undefined
        ? `Keys in ${orgName(e.targetId, ctx)} may live as long as their owners choose`
        : `Keys in ${orgName(e.targetId, ctx)} live at most ${plural(n(d.maxKeyLifetimeDays), "day", "days")}`;
    case "app.created":
      return `“${text(d.name)}” in ${orgName(d.organizationId, ctx)}`;
    case "resource.credentials_rotated":
      return `“${text(d.name)}” (${text(d.slug)}): new client id ${text(d.clientId)}`;
    case "resource.added":
    case "resource.removed":
      return `“${text(d.name)}” at /mcp/${text(d.slug)}`;
    case "resource.updated":
      return `“${text(d.name)}” at /mcp/${text(d.slug)}: ${text(d.changed).split(" ").filter(Boolean).map(words).join(", ")} changed`;
    default:
      // A kind without a sentence yet: its facts, with their names in words.
      return Object.entries(d)
        .filter(([, v]) => v !== null && v !== "")
        .map(([k, v]) => `${words(k)}: ${text(v)}`)
        .join(", ");
  }
}

export function describeEvent(e: AuditEventView, ctx: DescribeContext): DescribedEvent {
  return { what: kindInWords(e.action), by: byWhom(e, ctx), summary: detailsOf(e, ctx), client: describeUserAgent(e.userAgent) };
}

/** A limits change's new values (key.limits_changed, oauth.limits_changed), in words. */
function limitsInWords(d: Record<string, unknown>): string {
  const parts: string[] = [];
  if (d.allowedIps !== undefined) parts.push(text(d.allowedIps) ? `IP allowlist ${text(d.allowedIps)}` : "any IP address");
  if (d.rateLimit !== undefined) parts.push(text(d.rateLimit) ? `${text(d.rateLimit)} requests per minute` : "no rate limit");
  return parts.join(", ");
}
