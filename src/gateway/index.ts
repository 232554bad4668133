// The gateway: <ISSUER>/mcp/<slug> in front of the resource's upstream MCP server (docs/gateway-upstream.md).
// In order: the resource named by the path (any other spelling, or an unknown slug → 404), the method
// (POST, GET, DELETE), the key (requireKey: THE verification path /mcp uses, with this resource as the
// audience and its metadata in the challenge), its rate limits (429: src/http/key-rate-limit.ts), a
// slot among the key's open streams (429), the POST body (bounded, 413) with its Mcp-Method / Mcp-Name /
// MCP-Protocol-Version headers (400, src/gateway/tool-check.ts) and its tools/call scopes (403), then the
// upstream with identity headers and a signed assertion instead of the client's credentials, or, for a
// stdio resource, the user's own process (src/gateway/stdio/: the same checks up to there).
// One log line per request: resource, user or app, key id, status, latency; never a key or a header.
import type { Middleware } from "koa";
import type { Services } from "../services.js";
import type { Ctx, KeywardState } from "../http/state.js";
import { headerSafe, insufficientScopeChallenge, requireKey } from "../http/key-auth.js";
import { resourceMetadataUrl, type Resource } from "../resources/index.js";
import { isGatewayPath, slugOfPath } from "./address.js";
import { methodNotAllowed, notFound, tooManyStreams } from "./errors.js";
import { readJsonBody } from "./body.js";
import { checkAgreement, checkToolScopes } from "./tool-check.js";
import { createAssertionSigner } from "./assertion.js";
import { upstreamRequestHeaders } from "./headers.js";
import { createUpstreamAgent, forward } from "./proxy.js";
import { createHealthRecorder } from "./health.js";
import { createStreamSlots } from "./streams.js";
import { enforceKeyRateLimit } from "../http/key-rate-limit.js";
import { createModernStdio, serveStdio } from "./stdio/index.js";

const METHODS = new Set(["POST", "GET", "DELETE"]);

export function gateway(services: Services): Middleware<KeywardState> {
  const { config, logger } = services;
  const base = config.baseUrl;
  const { upstreamTimeoutMs, maxBodyBytes, streamsPerKey } = config.gateway;
  const resourceOf = new WeakMap<Ctx, { resource: Resource; metadata: string }>();
  const authenticate = requireKey(services.keys, {
    issuer: base,
    allowApps: true,
    doctor: services.doctor, // issue 26: connection doctor
    resourceMetadata: `${base}/.well-known/oauth-protected-resource/mcp`, // replaced per request below
    forRequest: (ctx) => {
      const found = resourceOf.get(ctx)!;
      return { resource: found.resource.url, resourceMetadata: found.metadata };
    },
  });
  const signer = createAssertionSigner(services.secrets.tokenSigningJwks, base);
  const dispatcher = createUpstreamAgent(upstreamTimeoutMs);
  const health = createHealthRecorder(services.db, logger);
  const slots = createStreamSlots(streamsPerKey);
  const stdio = { pool: services.stdioProcesses, modern: createModernStdio({ logger, timeoutMs: upstreamTimeoutMs }) };

  const proxy = async (ctx: Ctx, resource: Resource, metadata: string) => {
    const auth = ctx.state.auth;
    if (auth?.via !== "key" && auth?.via !== "app") throw new Error("requireKey did not run");
    const release = slots.take(auth.key.id);
    if (!release) throw tooManyStreams(streamsPerKey);
    ctx.res.once("close", release);
    try {
      let body: Buffer | undefined;
      let json: unknown;
      if (ctx.method === "POST") {
        const read = await readJsonBody(ctx.req, maxBodyBytes);
        checkAgreement(read.json, {
          method: ctx.get("mcp-method") || undefined,
          name: ctx.get("mcp-name") || undefined,
          protocolVersion: ctx.get("mcp-protocol-version") || undefined,
        });
        const check = checkToolScopes(read.json, auth.scopes, resource.toolScopes);
        if (!check.ok) {
          const tool = headerSafe(check.tool);
          const user = auth.via === "key" ? auth.user.id : null;
          const words = services.doctor.lacking({ ...auth.key, userId: user }, check.scope, tool, resource.url); // issue 26
          ctx.status = 403;
          ctx.set("WWW-Authenticate", insufficientScopeChallenge({ resourceMetadata: metadata }, check.scope, tool));
          ctx.set("Cache-Control", "no-store");
          ctx.body = { error: "insufficient_scope", error_description: words, scope: check.scope };
          return;
        }
        body = read.raw;
        json = read.json;
      }
      if (resource.transport.kind === "stdio") return await serveStdio(ctx, stdio, resource, auth, json);
      const headers = upstreamRequestHeaders(ctx.req.headers, auth, await signer.sign(auth, resource.url));
      const upstream = resource.transport.kind === "http" ? resource.transport.upstream : "";
      const { observation } = await forward(
        ctx,
        { name: resource.name, upstream },
        { dispatcher, headers, body, timeoutMs: upstreamTimeoutMs },
      );
      if (observation) {
        health.note(resource.id, observation);
        services.metrics?.upstream(observation); // observability: time to the upstream's headers, or a failure
      }
    } finally {
      if (ctx.respond !== false) release(); // a streamed answer releases its slot when it closes
    }
  };

  // Rate limits (issue 28): the key's own, and this resource's per-key limit when it has one.
  const limit = enforceKeyRateLimit(services.keyRateLimiter, (ctx, keyId) => {
    const resource = resourceOf.get(ctx)?.resource;
    return resource?.keyRateLimit
      ? { name: "resource", bucket: `resource ${resource.id} ${keyId}`, limit: resource.keyRateLimit }
      : undefined;
  });

  return async (ctx, next) => {
    if (!isGatewayPath(ctx.path)) return next();
    const slug = slugOfPath(ctx.path);
    const resource = slug === undefined ? undefined : await services.resources.lookup.bySlug(slug);
    // An external resource is served by its own server; Keyward answers for it as for no resource at all.
    if (!resource || resource.transport.kind === "external") throw notFound();
    if (!METHODS.has(ctx.method)) throw methodNotAllowed();
    const metadata = resourceMetadataUrl(base, resource.slug);
    resourceOf.set(ctx, { resource, metadata });
    const started = performance.now();
    ctx.res.once("close", () => {
      const auth = ctx.state.auth;
      const who = auth?.via === "key" ? { userId: auth.user.id } : auth?.via === "app" ? { appId: auth.app.id } : {};
      logger.info(
        {
          resource: resource.slug,
          method: ctx.method,
          ...who,
          keyId: auth && auth.via !== "session" ? auth.key.id : undefined,
          status: ctx.res.headersSent ? ctx.res.statusCode : 499,
          ms: Math.round((performance.now() - started) * 10) / 10,
        },
        "gateway",
      );
    });
    await authenticate(ctx, () => limit(ctx, () => proxy(ctx, resource, metadata)));
  };
}
