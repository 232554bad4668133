// The OAuth steps of a connection, from oidc-provider's events: registration, the authorization
// request (accepted or refused), the code exchange (a key issued, or refused). A refusal becomes a
// typed failure (reasons.ts), decided from the error's class and the request's own data (the code's
// challenge against the verifier sent, the redirect URI against the registered ones), never from an
// error message. Its words are recorded and, where oidc-provider answers with JSON (the token
// endpoint, the pushed authorization request endpoint), written into the response's error_description
// by explainOAuthErrors; the authorization error page shows them too
// (src/oauth/interactions-error-page.ts: explainedFailure).
import { createHash, timingSafeEqual } from "node:crypto";
import type { Middleware } from "koa";
import Provider, { errors, type KoaContextWithOIDC } from "oidc-provider";
import { hashKey } from "../keys/hash.js";
import { mcpResource } from "../mcp/metadata.js";
import type { Services } from "../services.js";
import { describe, type ConnectionFailure } from "./reasons.js";
import type { Detail } from "./events.js";

/** The failure decided for a request, by its context object (the same one the app's middleware sees). */
const explained = new WeakMap<object, Promise<ConnectionFailure | undefined>>();

/** Failures whose words replace oidc-provider's error_description; the others keep its own. */
const OWN_WORDS = new Set<ConnectionFailure["kind"]>([
  "pkce_mismatch",
  "pkce_missing",
  "code_redirect_mismatch",
  "code_expired",
  "redirect_not_registered",
  "unknown_resource",
]);

const text = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);
const texts = (value: unknown): string[] =>
  (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === "string" && v !== "");

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The words for this request's OAuth failure, when the doctor has its own (the error page). */
export async function explainedFailure(ctx: object): Promise<string | undefined> {
  const failure = await explained.get(ctx);
  if (!failure || !OWN_WORDS.has(failure.kind)) return undefined;
  // Whoever answers this request reads the words: not the redirect URI it asked for, which anyone can
  // put in a link (a page of ours must not show an attacker's address); the doctor's record keeps it.
  return failure.kind === "redirect_not_registered" ? describe({ ...failure, redirectUri: null }) : describe(failure);
}

/** oidc-provider's JSON error answers carry the doctor's words as error_description. */
export const explainOAuthErrors: Middleware = async (ctx, next) => {
  await next();
  const words = explained.has(ctx) ? await explainedFailure(ctx) : undefined;
  const body: unknown = ctx.body;
  if (words && body && typeof body === "object" && !Buffer.isBuffer(body) && "error" in body)
    ctx.body = { ...body, error_description: words };
};

function authorizationFailure(ctx: KoaContextWithOIDC, err: unknown, builtIn: string): ConnectionFailure | undefined {
  const params = ctx.oidc.params ?? {};
  if (err instanceof errors.AccessDenied) return undefined; // the consent step records the user's denial
  if (err instanceof errors.InvalidRedirectUri)
    return {
      kind: "redirect_not_registered",
      redirectUri: text(params.redirect_uri) ?? "(none)",
      registered: [...(ctx.oidc.client?.redirectUris ?? [])],
    };
  if (err instanceof errors.InvalidTarget) return { kind: "unknown_resource", resource: texts(params.resource).join(" "), builtIn };
  const { error, error_description } = err as { error?: unknown; error_description?: unknown };
  return { kind: "oauth_error", error: text(error) ?? "invalid_request", description: text(error_description) };
}

async function tokenFailure(
  provider: Provider,
  ctx: KoaContextWithOIDC,
  err: unknown,
  builtIn: string,
): Promise<{ failure: ConnectionFailure; userId?: string }> {
  const params = ctx.oidc.params ?? {};
  const { error, error_description } = err as { error?: unknown; error_description?: unknown };
  const generic: ConnectionFailure = { kind: "oauth_error", error: text(error) ?? "invalid_request", description: text(error_description) };
  if (err instanceof errors.InvalidTarget)
    return { failure: { kind: "unknown_resource", resource: texts(params.resource).join(" "), builtIn } };
  const value = text(params.code);
  if (!(err instanceof errors.InvalidGrant) || params.grant_type !== "authorization_code" || !value) return { failure: generic };
  const code = await provider.AuthorizationCode.find(value, { ignoreExpiration: true }).catch(() => undefined);
  if (!code || code.clientId !== ctx.oidc.client?.clientId) return { failure: generic };
  const userId = code.accountId;
  if (code.isExpired) return { failure: { kind: "code_expired" }, userId };
  const verifier = text(params.code_verifier);
  if (code.codeChallenge) {
    if (!verifier) return { failure: { kind: "pkce_missing" }, userId };
    if (!sameText(createHash("sha256").update(verifier).digest("base64url"), code.codeChallenge))
      return { failure: { kind: "pkce_mismatch" }, userId };
  }
  if (code.redirectUri !== params.redirect_uri) return { failure: { kind: "code_redirect_mismatch" }, userId };
  return { failure: generic, userId };
}

/**
 * oidc-provider's defaultResource (src/oauth/provider.ts): called when a request names no resource. At
 * the authorization endpoint that is worth knowing: the key will work at `resource` only.
 */
export function defaultedResource(ctx: KoaContextWithOIDC, services: Services, resource: string): string {
  const clientId = ctx.oidc.client?.clientId;
  const route = ctx.oidc.route;
  if (clientId && (route === "authorization" || route === "pushed_authorization_request"))
    services.doctor.events.record({
      clientId,
      userId: ctx.oidc.session?.accountId ?? null,
      step: "authorization",
      outcome: "ok",
      reason: { kind: "no_resource", defaultResource: resource },
      detail: { resourceSent: false, redirect_uri: text(ctx.oidc.params?.redirect_uri) ?? null },
    });
  return resource;
}

export function watchConnections(provider: Provider, services: Services): void {
  const defaultResource = mcpResource(services.config);
  const { events } = services.doctor;
  const warn = (err: unknown) => services.logger.warn({ err }, "connection doctor: a step was not understood");

  /** The discovery this caller did before it was a client (discovery.ts): one step, dated by its first request. */
  const discovered = (ctx: KoaContextWithOIDC, clientId: string, userId: string | null) => {
    const documents = services.doctor.discovery.take(ctx.ip, ctx.get("user-agent") || undefined);
    if (documents.length)
      events.record({
        clientId,
        userId,
        step: "discovery",
        outcome: "ok",
        detail: { documents: documents.map((d) => d.what) },
        at: new Date(documents[0]!.at),
      });
  };

  provider.on("registration_create.success", (ctx: KoaContextWithOIDC, client: InstanceType<Provider["Client"]>) => {
    discovered(ctx, client.clientId, null);
    const detail: Detail = {
      client_name: client.clientName ?? null,
      redirect_uris: [...(client.redirectUris ?? [])],
      token_endpoint_auth_method: client.tokenEndpointAuthMethod ?? null,
    };
    events.record({ clientId: client.clientId, step: "registration", outcome: "ok", detail });
  });

  provider.on("authorization.accepted", (ctx: KoaContextWithOIDC) => {
    const params = ctx.oidc.params ?? {};
    const clientId = ctx.oidc.client?.clientId;
    if (!clientId) return;
    const resource = texts(params.resource);
    events.record({
      clientId,
      userId: ctx.oidc.session?.accountId ?? null,
      step: "authorization",
      outcome: "ok",
      detail: {
        resource,
        scope: text(params.scope) ?? null,
        code_challenge_method: text(params.code_challenge_method) ?? null,
        redirect_uri: text(params.redirect_uri) ?? null,
        client: clientId.startsWith("https://") ? "metadata document" : "registered",
      },
    });
  });

  /** A refused authorization request: at the authorization endpoint, or pushed (RFC 9126 PAR, `pushed`). */
  const authorizationRefused = (ctx: KoaContextWithOIDC, err: unknown, pushed: boolean) => {
    const failure = authorizationFailure(ctx, err, defaultResource);
    if (!failure) return;
    explained.set(ctx, Promise.resolve(failure));
    const clientId = ctx.oidc.client?.clientId; // a client that exists: an unknown client_id belongs to nobody
    if (!clientId) return;
    const params = ctx.oidc.params ?? {};
    const detail: Detail = {
      resource: texts(params.resource),
      scope: text(params.scope) ?? null,
      redirect_uri: text(params.redirect_uri) ?? null,
    };
    if (pushed) detail.request = "pushed (PAR)";
    events.record({
      clientId,
      // a pushed request comes from the client's back end: no user is known yet
      userId: pushed ? null : (ctx.oidc.session?.accountId ?? null),
      step: "authorization",
      outcome: "failed",
      reason: failure,
      detail,
    });
  };
  provider.on("authorization.error", (ctx: KoaContextWithOIDC, err: unknown) => authorizationRefused(ctx, err, false));
  // oidc-provider answers a refused PAR in JSON: explainOAuthErrors writes the same words into it.
  provider.on("pushed_authorization_request.error", (ctx: KoaContextWithOIDC, err: unknown) => authorizationRefused(ctx, err, true));

  provider.on("grant.success", (ctx: KoaContextWithOIDC) => {
    const { AuthorizationCode: code, AccessToken: token } = ctx.oidc.entities;
    const clientId = ctx.oidc.client?.clientId;
    if (!clientId || !code || !token) return;
    const params = ctx.oidc.params ?? {};
    const resource = texts(params.resource).length ? texts(params.resource) : texts(code.resource);
    const userId = code.accountId ?? null;
    // A client that did not register (a metadata document) is first seen by its own requests here.
    discovered(ctx, clientId, userId);
    // The key's id, by its hash as verification finds it; the token itself is never kept.
    const at = new Date();
    events.track(
      Promise.all([
        services.db.apiKey.findUnique({ where: { hash: hashKey(token.jti) }, select: { id: true } }),
        events.lastAuthorizationNamedResource(clientId, userId),
      ])
        .then(([key, resourceSent]) =>
          events.record({
            clientId,
            userId,
            keyId: key?.id ?? null,
            step: "token",
            outcome: "ok",
            detail: {
              resource: resource.length ? resource : [defaultResource],
              resourceSent,
              scope: token.scope ?? null,
              dpop: !!token.jkt,
            },
            at,
          }),
        )
        .catch(warn),
    );
  });

  provider.on("grant.error", (ctx: KoaContextWithOIDC, err: unknown) => {
    const clientId = ctx.oidc.client?.clientId;
    const decided = tokenFailure(provider, ctx, err, defaultResource).catch((e: unknown) => {
      warn(e);
      return undefined;
    });
    explained.set(
      ctx,
      decided.then((d) => d?.failure),
    );
    if (!clientId) return;
    const at = new Date();
    events.track(
      decided.then((d) => {
        if (d)
          events.record({
            clientId,
            userId: d.userId ?? null,
            step: "token",
            outcome: "failed",
            reason: d.failure,
            detail: { grant_type: text(ctx.oidc.params?.grant_type) ?? null },
            at,
          });
      }),
    );
  });
}
