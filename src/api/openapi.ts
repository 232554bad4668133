// The JSON API's OpenAPI 3.1 document, written as data and served at GET /api/openapi.json.
// test/openapi.test.ts holds it to the code: every route the /api routers register is documented and
// every documented operation is served, and real responses are validated against the schemas here.
// Schemas are JSON Schema 2020-12 (OpenAPI 3.1's dialect).
import type { Middleware } from "koa";
import { ROLL_OVERLAP_NAMES } from "../keys/index.js";

type Schema = Record<string, unknown>;
type Operation = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const nullable = (type: string, extra: Schema = {}): Schema => ({ type: [type, "null"], ...extra });
const list = (item: Schema): Schema => ({
  type: "object",
  required: ["data"],
  properties: { data: { type: "array", items: item } },
});
const json = (schema: Schema, description: string) => ({ description, content: { "application/json": { schema } } });
const error = (description: string) => json(ref("Error"), description);
const body = (schema: Schema) => ({ required: true, content: { "application/json": { schema } } });
const pathParam = (name: string, description: string) => ({ name, in: "path", required: true, schema: { type: "string" }, description });

/** The answers every authenticated operation may give besides its own. */
const refusals = {
  "401": error("No key or session, or a key that does not verify (WWW-Authenticate says why)."),
  "403": error("The key lacks the scope, or the caller's role does not allow it (insufficient_scope, forbidden)."),
  "429": error("The key's rate limit."),
};
const withBody = { "400": error("The body or a parameter is not valid."), "415": error("The body is not application/json.") };
const missing = (what: string) => ({ "404": error(`No ${what} with that id (another user's answers the same).`) });

function op(
  tags: string[],
  summary: string,
  scope: string,
  responses: Record<string, unknown>,
  extra: { parameters?: unknown[]; requestBody?: unknown } = {},
): Operation {
  return {
    tags,
    summary,
    description: `Needs \`${scope}\` with a key (a session has every scope; a browser session also sends X-CSRF-Token on changes).`,
    security: [{ bearer: [scope] }, { apiKey: [scope] }, { session: [] }],
    ...extra,
    responses: { ...responses, ...refusals },
  };
}

const keyId = pathParam("id", "The key's id.");
const orgId = pathParam("orgId", "The organisation's id.");
const appId = pathParam("appId", "The app's id.");

const keyWrite: Schema = {
  type: "object",
  additionalProperties: false,
  properties: {
    label: { type: "string" },
    name: { type: "string", description: "Same as label." },
    scopes: { type: "array", items: { type: "string" } },
    organizationId: { type: "string" },
    dpop_jkt: { type: "string", description: "RFC 9449: bind the key to this JWK thumbprint." },
    resources: nullable("array", { items: { type: "string" }, description: "Slugs or URLs; null or absent: every resource." }),
    allowedIps: { description: "CIDR ranges, a list or one string; null: any address.", type: ["array", "string", "null"] },
    rateLimit: nullable("integer", { description: "Requests per minute; null: no limit." }),
    expires: { type: "string", description: "never, <n>d, YYYY-MM-DD or an ISO 8601 time." },
  },
};

export const openApiDocument = {
  openapi: "3.1.0",
  info: {
    title: "Keyward JSON API",
    version: "1",
    description:
      "Keys, usage and organisations for scripts. Authenticate with a key (Authorization: Bearer, or X-API-Key) or a browser session " +
      "plus X-CSRF-Token. Errors are JSON: {error, error_description}. A foreign id answers exactly like a missing one.",
  },
  servers: [{ url: "/" }],
  components: {
    securitySchemes: {
      bearer: { type: "http", scheme: "bearer", description: "A Keyward key." },
      apiKey: { type: "apiKey", in: "header", name: "X-API-Key" },
      session: { type: "apiKey", in: "cookie", name: "kw_session", description: "A browser session; changes also need X-CSRF-Token." },
      resourceServer: {
        type: "http",
        scheme: "basic",
        description: "A separate resource server's credentials (keyward resources add --external).",
      },
    },
    schemas: {
      Error: {
        type: "object",
        required: ["error", "error_description"],
        properties: { error: { type: "string" }, error_description: { type: "string" } },
      },
      Key: {
        type: "object",
        required: ["id", "label", "last4", "status", "source", "sourceLabel", "scopes", "createdAt"],
        properties: {
          id: { type: "string" },
          label: { type: "string" },
          last4: { type: "string" },
          status: { enum: ["active", "revoked", "expired"] },
          source: { enum: ["portal", "oauth", "cli", "unknown"] },
          sourceLabel: { type: "string" },
          clientId: nullable("string"),
          scopes: { type: "array", items: { type: "string" } },
          resources: nullable("array", { items: { type: "string" } }),
          organizationId: nullable("string"),
          appId: nullable("string"),
          dpopJkt: nullable("string"),
          allowedIps: nullable("array", { items: { type: "string" } }),
          rateLimit: nullable("integer"),
          createdAt: { type: "string", format: "date-time" },
          lastUsedAt: nullable("string", { format: "date-time" }),
          revokedAt: nullable("string", { format: "date-time" }),
          expiresAt: nullable("string", { format: "date-time" }),
          replacedById: nullable("string"),
        },
      },
      MintedKey: {
        description: "The key, with the raw key: shown in this response only.",
        allOf: [ref("Key"), { type: "object", required: ["key"], properties: { key: { type: "string" } } }],
      },
      RolledKey: {
        allOf: [ref("MintedKey"), { type: "object", required: ["replaces"], properties: { replaces: ref("Key") } }],
      },
      KeyPage: {
        type: "object",
        required: ["data", "next_cursor"],
        properties: { data: { type: "array", items: ref("Key") }, next_cursor: nullable("string") },
      },
      Usage: {
        type: "object",
        required: ["key_id"],
        properties: { key_id: { type: "string" } },
        description: "Requests per day and per hour for the last 30 days, refusals apart (docs/key-lifecycle.md#usage).",
      },
      Organization: { type: "object", required: ["id", "name"], properties: { id: { type: "string" }, name: { type: "string" } } },
      Object: { type: "object", description: "See docs/permissions.md for the fields." },
    },
  },
  paths: {
    "/api/api-keys": {
      get: op(
        ["keys"],
        "The caller's keys, newest first, a page at a time",
        "keys:read",
        { "200": json(ref("KeyPage"), "A page of keys.") },
        {
          parameters: [
            { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 500, default: 100 } },
            { name: "cursor", in: "query", schema: { type: "string" }, description: "next_cursor of the previous page." },
            { name: "q", in: "query", schema: { type: "string" }, description: "Label contains." },
            { name: "status", in: "query", schema: { enum: ["active", "revoked", "expired"] } },
            { name: "source", in: "query", schema: { enum: ["portal", "oauth", "cli", "unknown"] } },
            { name: "resource", in: "query", schema: { type: "string" }, description: "A slug or URL: keys that work there." },
          ],
        },
      ),
      post: op(
        ["keys"],
        "Mint a key",
        "keys:write",
        { "201": json(ref("MintedKey"), "The new key, with the raw key."), ...withBody },
        {
          requestBody: body(keyWrite),
        },
      ),
    },
    "/api/api-keys/revoke": {
      post: op(
        ["keys"],
        "Revoke several keys (all or nothing), or every key unused for some days",
        "keys:write",
        {
          "200": json(
            {
              type: "object",
              required: ["data", "dry_run"],
              properties: { data: { type: "array", items: ref("Key") }, dry_run: { type: "boolean" } },
            },
            "The keys revoked (or that would be).",
          ),
          ...withBody,
          ...missing("key"),
        },
        {
          requestBody: body({
            type: "object",
            additionalProperties: false,
            properties: {
              ids: { type: "array", items: { type: "string" }, minItems: 1 },
              unused_days: { type: "integer", minimum: 1 },
              dry_run: { type: "boolean" },
            },
          }),
        },
      ),
    },
    "/api/api-keys/{id}": {
      get: op(["keys"], "One key", "keys:read", { "200": json(ref("Key"), "The key."), ...missing("key") }, { parameters: [keyId] }),
      patch: op(
        ["keys"],
        "Rename a key, or change its limits",
        "keys:write",
        { "200": json(ref("Key"), "The key as changed."), ...withBody, ...missing("key") },
        {
          parameters: [keyId],
          requestBody: body({
            type: "object",
            additionalProperties: false,
            properties: { label: { type: "string" }, allowedIps: { type: ["array", "string", "null"] }, rateLimit: nullable("integer") },
          }),
        },
      ),
      delete: op(
        ["keys"],
        "Revoke a key",
        "keys:write",
        { "200": json(ref("Key"), "The key, revoked."), ...missing("key") },
        { parameters: [keyId] },
      ),
    },
    "/api/api-keys/{id}/usage": {
      get: op(
        ["keys"],
        "A key's usage, the last 30 days",
        "keys:read",
        { "200": json(ref("Usage"), "Counts per day and hour."), ...missing("key") },
        {
          parameters: [keyId],
        },
      ),
    },
    "/api/api-keys/{id}/roll": {
      post: op(
        ["keys"],
        "Roll a key: a replacement now, the old key until the overlap ends",
        "keys:write",
        { "201": json(ref("RolledKey"), "The replacement, with the raw key."), ...withBody, ...missing("key") },
        {
          parameters: [keyId],
          requestBody: body({ type: "object", properties: { overlap: { enum: ROLL_OVERLAP_NAMES } } }),
        },
      ),
    },
    "/api/orgs": {
      get: op(["orgs"], "The caller's organisations", "orgs:read", { "200": json(list(ref("Organization")), "Organisations.") }),
      post: op(
        ["orgs"],
        "Create an organisation",
        "orgs:write",
        { "201": json(ref("Organization"), "The organisation."), ...withBody },
        {
          requestBody: body({ type: "object", required: ["name"], properties: { name: { type: "string" } } }),
        },
      ),
    },
    "/api/orgs/{orgId}": {
      get: op(
        ["orgs"],
        "One organisation",
        "orgs:read",
        { "200": json(ref("Organization"), "The organisation."), ...missing("organisation") },
        { parameters: [orgId] },
      ),
    },
    "/api/orgs/{orgId}/key-policy": {
      put: op(
        ["orgs"],
        "Cap the lifetime of the organisation's keys (owners and admins)",
        "orgs:write",
        { "200": json(ref("Object"), "The policy."), ...withBody, ...missing("organisation") },
        {
          parameters: [orgId],
          requestBody: body({ type: "object", properties: { max_key_lifetime_days: nullable("integer") } }),
        },
      ),
    },
    "/api/orgs/{orgId}/members": {
      get: op(
        ["orgs"],
        "Members and their roles",
        "orgs:read",
        { "200": json(list(ref("Object")), "Members."), ...missing("organisation") },
        { parameters: [orgId] },
      ),
      post: op(
        ["orgs"],
        "Invite someone (202 and the same answer for any email)",
        "orgs:write",
        { "202": json(ref("Object"), "The invitation."), ...withBody, ...missing("organisation") },
        {
          parameters: [orgId],
          requestBody: body({ type: "object", required: ["email"], properties: { email: { type: "string" }, role: { type: "string" } } }),
        },
      ),
    },
    "/api/orgs/{orgId}/members/{userId}": {
      patch: op(
        ["orgs"],
        "Change a member's role",
        "orgs:write",
        { "200": json(ref("Object"), "The membership."), ...withBody, ...missing("member") },
        {
          parameters: [orgId, pathParam("userId", "The member's user id.")],
          requestBody: body({ type: "object", required: ["role"], properties: { role: { type: "string" } } }),
        },
      ),
      delete: op(
        ["orgs"],
        "Remove a member (their keys in the organisation stop working)",
        "orgs:write",
        { "200": json(ref("Object"), "Done."), ...missing("member") },
        {
          parameters: [orgId, pathParam("userId", "The member's user id.")],
        },
      ),
    },
    "/api/orgs/{orgId}/invitations": {
      get: op(
        ["orgs"],
        "Open invitations",
        "orgs:read",
        { "200": json(list(ref("Object")), "Invitations."), ...missing("organisation") },
        { parameters: [orgId] },
      ),
    },
    "/api/orgs/{orgId}/invitations/{invitationId}": {
      delete: op(
        ["orgs"],
        "Withdraw an invitation",
        "orgs:write",
        { "200": json(ref("Object"), "Done."), ...missing("invitation") },
        {
          parameters: [orgId, pathParam("invitationId", "The invitation's id.")],
        },
      ),
    },
    "/api/orgs/{orgId}/keys": {
      get: op(
        ["orgs"],
        "The members' keys (admins)",
        "orgs:read",
        { "200": json(list(ref("Object")), "Keys."), ...missing("organisation") },
        { parameters: [orgId] },
      ),
    },
    "/api/orgs/{orgId}/keys/{keyId}": {
      delete: op(
        ["orgs"],
        "Revoke a member's key (admins)",
        "orgs:write",
        { "200": json(ref("Object"), "The key, revoked."), ...missing("key") },
        {
          parameters: [orgId, pathParam("keyId", "The key's id.")],
        },
      ),
    },
    "/api/orgs/{orgId}/apps": {
      get: op(
        ["apps"],
        "The organisation's apps (admins)",
        "orgs:read",
        { "200": json(list(ref("Object")), "Apps."), ...missing("organisation") },
        { parameters: [orgId] },
      ),
      post: op(
        ["apps"],
        "Create an app (admins)",
        "orgs:write",
        { "201": json(ref("Object"), "The app."), ...withBody, ...missing("organisation") },
        {
          parameters: [orgId],
          requestBody: body({ type: "object", required: ["name"], properties: { name: { type: "string" } } }),
        },
      ),
    },
    "/api/orgs/{orgId}/apps/{appId}/keys": {
      get: op(
        ["apps"],
        "An app's keys",
        "orgs:read",
        { "200": json(list(ref("Key")), "Keys."), ...missing("app") },
        { parameters: [orgId, appId] },
      ),
      post: op(
        ["apps"],
        "Mint an app key",
        "orgs:write",
        { "201": json(ref("MintedKey"), "The new key, with the raw key."), ...withBody, ...missing("app") },
        {
          parameters: [orgId, appId],
          requestBody: body(keyWrite),
        },
      ),
    },
    "/api/orgs/{orgId}/apps/{appId}/keys/{keyId}": {
      delete: op(
        ["apps"],
        "Revoke an app key",
        "orgs:write",
        { "200": json(ref("Object"), "The key, revoked."), ...missing("key") },
        {
          parameters: [orgId, appId, pathParam("keyId", "The key's id.")],
        },
      ),
    },
    "/api/orgs/{orgId}/apps/{appId}/keys/{keyId}/roll": {
      post: op(
        ["apps"],
        "Roll an app key",
        "orgs:write",
        { "201": json(ref("RolledKey"), "The replacement, with the raw key."), ...withBody, ...missing("key") },
        {
          parameters: [orgId, appId, pathParam("keyId", "The key's id.")],
          requestBody: body({ type: "object", properties: { overlap: { enum: ROLL_OVERLAP_NAMES } } }),
        },
      ),
    },
    "/api/invitations": {
      get: op(["orgs"], "Invitations addressed to the caller", "orgs:read", { "200": json(list(ref("Object")), "Invitations.") }),
    },
    "/api/invitations/{invitationId}/accept": {
      post: op(
        ["orgs"],
        "Accept an invitation",
        "orgs:write",
        { "200": json(ref("Object"), "The membership."), ...missing("invitation") },
        {
          parameters: [pathParam("invitationId", "The invitation's id.")],
        },
      ),
    },
    "/api/invitations/{invitationId}/decline": {
      post: op(
        ["orgs"],
        "Decline an invitation",
        "orgs:write",
        { "200": json(ref("Object"), "Done."), ...missing("invitation") },
        {
          parameters: [pathParam("invitationId", "The invitation's id.")],
        },
      ),
    },
    "/api/secret-scanning/report": {
      post: {
        tags: ["secret scanning"],
        summary: "A secret scanner reports leaked keys (signed; docs/secret-scanning.md)",
        security: [],
        requestBody: body({ type: "array", items: { type: "object", required: ["token", "type", "url", "source"] } }),
        responses: {
          "200": json({ type: "array" }, "One verdict per reported token."),
          "400": error("Not a report."),
          "401": error("A missing or wrong signature."),
          "404": error("Secret scanning is not configured."),
        },
      },
    },
    "/api/resources/{slug}/events": {
      get: {
        tags: ["resource servers"],
        summary: "Revocations of a separate resource server's keys, as Server-Sent Events (docs/resource-servers.md)",
        security: [{ resourceServer: [] }],
        parameters: [pathParam("slug", "The resource's slug."), { name: "Last-Event-ID", in: "header", schema: { type: "string" } }],
        responses: {
          "200": { description: "An event stream.", content: { "text/event-stream": { schema: { type: "string" } } } },
          "401": error("Not the resource's own credentials."),
          "404": error("No such external resource."),
        },
      },
    },
    "/api/openapi.json": {
      get: {
        tags: ["meta"],
        summary: "This document",
        security: [],
        responses: { "200": json({ type: "object" }, "The OpenAPI 3.1 document.") },
      },
    },
  },
} as const;

/** GET /api/openapi.json: the document, public (it describes the API, not anyone's data). */
export const openApiRoute: Middleware = async (ctx, next) => {
  if (ctx.path !== "/api/openapi.json") return next();
  if (ctx.method !== "GET" && ctx.method !== "HEAD") {
    ctx.status = 405;
    ctx.set("Allow", "GET, HEAD");
    ctx.body = { error: "method_not_allowed", error_description: "Use GET" };
    return;
  }
  ctx.set("Cache-Control", "public, max-age=300");
  ctx.body = openApiDocument;
};
