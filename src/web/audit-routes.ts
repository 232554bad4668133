// The account's audit trail: what happened to it, who did it, from where.
import { Router } from "@koa/router";
import type { Services } from "../services.js";
import type { KeywardState } from "../http/state.js";
import type { AuditEventView } from "../audit/index.js";
import { sendPage } from "./render.js";
import { loginUrl } from "./require-login.js";

export const AUDIT_PAGE = "/app/account/audit";

const ACTIONS: Record<string, string> = {
  "key.minted": "API key minted",
  "key.revoked": "API key revoked",
  "oauth.authorized": "App authorized (OAuth consent)",
  "oauth.disconnected": "App disconnected",
  "login.succeeded": "Logged in",
  "login.failed": "Failed log-in",
  "signup.email_taken": "Sign-up attempted with your email (nothing was changed)",
  "2fa.enabled": "Two-factor authentication turned on",
  "2fa.disabled": "Two-factor authentication turned off",
  "2fa.backup_code_used": "Backup code used",
  "2fa.backup_codes_regenerated": "New backup codes made",
  "password.changed": "Password changed",
  "sessions.signed_out_everywhere": "Signed out everywhere",
};

const ACTORS: Record<string, string> = {
  user: "You",
  api_key: "API key",
  cli: "Command line (server operator)",
  oauth_client: "OAuth app",
  org_admin: "Organisation admin",
  secret_scanning: "Secret scanning",
  system: "Keyward",
};

export interface AuditRow extends AuditEventView {
  label: string;
  actorLabel: string;
  summary: string;
}

/** The facts worth a column, as text (details never hold secrets). */
function summarise(e: AuditEventView): string {
  return Object.entries(e.details)
    .filter(([, v]) => v !== null && v !== "")
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join(", ");
}

export function auditRows(events: AuditEventView[]): AuditRow[] {
  return events.map((e) => ({
    ...e,
    label: ACTIONS[e.action] ?? e.action,
    actorLabel: e.actorType === "user" && !e.actorId ? "Someone (not logged in)" : (ACTORS[e.actorType] ?? e.actorType),
    summary: summarise(e),
  }));
}

export function auditRoutes(services: Services): Router<KeywardState> {
  const router = new Router<KeywardState>();
  router.get(AUDIT_PAGE, async (ctx) => {
    const user = ctx.state.session?.user;
    if (!user) return ctx.redirect(loginUrl(AUDIT_PAGE));
    const events = auditRows(await services.audit.listForUser(user.id, { limit: 200 }));
    await sendPage(ctx, "audit", { title: "Account activity", events });
  });
  return router;
}
