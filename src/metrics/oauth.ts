// OAuth flow steps from oidc-provider's own events: a client registers, pushes or starts an
// authorization, the user is sent to log in / consent (interaction), the authorization succeeds or
// fails, the code is exchanged at /token (grant), keys are revoked or introspected. Only the events
// named here are counted, each under its own name: a fixed set of label values.
import type Provider from "oidc-provider";
import type { Metrics } from "./registry.js";

export const OAUTH_EVENTS = [
  "registration_create.success",
  "registration_create.error",
  "registration_update.success",
  "registration_delete.success",
  "pushed_authorization_request.success",
  "pushed_authorization_request.error",
  "authorization.accepted",
  "interaction.started",
  "interaction.ended",
  "authorization.success",
  "authorization.error",
  "grant.success",
  "grant.error",
  "grant.revoked",
  "revocation.error",
  "introspection.error",
  "userinfo.error",
  "server_error",
] as const;

export function observeOAuth(provider: Provider, metrics: Metrics | undefined): void {
  if (!metrics) return;
  const events: NodeJS.EventEmitter = provider; // the names are oidc-provider's; its typings list only some of them
  for (const event of OAUTH_EVENTS) events.on(event, () => metrics.oauthEvent(event));
}
