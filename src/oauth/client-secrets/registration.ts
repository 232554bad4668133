// RFC 7592 once the server no longer knows a client's secret.
//   - Read (GET) and update (PUT) responses carry no client_secret: oidc-provider would echo what it
//     holds, the hash. The secret is in the one response that issues it (RFC 7591 registration, or an
//     update that makes a public client confidential); client_secret_expires_at stays (0: it does not
//     expire), so the client knows to keep the one it has. An update does not rotate the secret.
//   - An update MAY carry client_secret, which MUST match the current one (RFC 7592 §2.2). oidc-provider
//     compares it with the hash as a string, so it is checked here: a match is dropped (the update
//     goes on as if it were not sent), anything else becomes "", which never equals a stored hash, and
//     oidc-provider answers its own 400 invalid_request after its registration access token check.
// Runs after registrationPolicy, which has parsed the update's JSON body into ctx.request.body.
import type { Middleware } from "koa";
import type { Db } from "../../db/client.js";
import { createPayloadAdapter } from "../adapter.js";
import { providerRoute } from "../provider-routes.js";
import { clientSecretMatches, isHashedClientSecret } from "./stored-secret.js";

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

export function clientSecretsInRegistrationManagement(db: Db): Middleware {
  const clients = createPayloadAdapter(db, "Client");
  return async (ctx, next) => {
    const route = providerRoute(ctx.method, ctx.path);
    if (route?.name !== "client" && route?.name !== "client_update") return next();

    const body: unknown = ctx.request.body;
    if (route.name === "client_update" && isRecord(body) && typeof body.client_secret === "string") {
      const stored = await clients.find(route.params.clientId ?? "");
      if (clientSecretMatches(stored?.client_secret, body.client_secret)) delete body.client_secret;
      else body.client_secret = "";
    }

    await next();

    if (isRecord(ctx.body) && typeof ctx.body.client_secret === "string" && isHashedClientSecret(ctx.body.client_secret)) {
      delete ctx.body.client_secret;
    }
  };
}
