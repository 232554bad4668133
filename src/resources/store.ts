// Resources as data: add, change, list and remove the MCP servers the gateway protects. Every write
// records its audit event; removing a resource revokes every key bound to it through THE revoke path
// (src/keys/revoke.ts), which records each key's own `key.revoked`.
import { randomBase62 } from "../keys/format.js";
import type { Db } from "../db/client.js";
import { announceCommitted } from "../keys/lookup/announce.js";
import type { Audit, AuditInput } from "../audit/index.js";
import type { Keys } from "../keys/index.js";
import type { Resource as ResourceRow } from "../generated/sqlite/client.js";
import { resourceUrl } from "./identity.js";
import { stringMap, transportColumns, transportOf, type Transport } from "./transport.js";
import { newCredentials, type ResourceCredentials } from "./credentials.js";
import { firstProblem, resourceChangeSchema, resourceInputSchema, type ResourceChange, type ResourceInput } from "./input.js";

export interface Resource {
  id: string;
  slug: string;
  name: string;
  /** The RFC 8707 identifier keys are bound to: `<ISSUER>/mcp/<slug>`, or an external server's own URL. */
  url: string;
  /** How it is served (src/resources/transport.ts). */
  transport: Transport;
  /** External resources: the client id its server authenticates with (the secret is never kept); null otherwise. */
  credentialId: string | null;
  /** Tool → the scope a tools/call of it needs. */
  toolScopes: Readonly<Record<string, string>>;
  /** Requests per minute each key may send here (src/http/key-rate-limit.ts); null: no limit. */
  keyRateLimit: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface ResourceHealthView {
  lastOkAt: string | null;
  lastErrorAt: string | null;
  lastError: string | null;
  latencyMs: number | null;
}

/** A refused input, in words (the CLI prints it, a page shows it inline, the API answers 400). */
export class ResourceInputError extends Error {}
/** No resource by that slug. */
export class ResourceNotFoundError extends Error {}

/** Who changes a resource, from where: the audit trail's actor. */
export interface ResourceActing {
  actor: AuditInput["actor"];
  ip?: string | null;
  userAgent?: string | null;
}

export function toResource(row: ResourceRow, baseUrl: string): Resource {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    url: row.external ?? resourceUrl(baseUrl, row.slug),
    transport: transportOf(row),
    credentialId: row.credentialId,
    toolScopes: Object.freeze(stringMap(row.toolScopes)),
    keyRateLimit: row.keyRateLimit,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export function createResourceStore(db: Db, options: { baseUrl: string; scopes: readonly string[]; audit: Audit; keys: Keys }) {
  const { baseUrl, audit } = options;
  const view = (row: ResourceRow) => toResource(row, baseUrl);

  const checkScopes = (toolScopes: Record<string, string> | undefined) => {
    for (const [tool, scope] of Object.entries(toolScopes ?? {})) {
      if (!options.scopes.includes(scope))
        throw new ResourceInputError(`tool ${tool}: unknown scope "${scope}" (this server's scopes: ${options.scopes.join(", ")})`);
    }
  };

  const event = (action: string, resource: Resource, by: ResourceActing, details: AuditInput["details"] = {}): AuditInput => ({
    userId: null,
    actor: by.actor,
    action,
    targetId: resource.id,
    ip: by.ip ?? null,
    userAgent: by.userAgent ?? null,
    details: { slug: resource.slug, name: resource.name, ...details },
  });

  const get = async (slug: string): Promise<Resource> => {
    const row = await db.resource.findUnique({ where: { slug } });
    if (!row) throw new ResourceNotFoundError(`No resource "${slug}": \`keyward resources list\` shows them`);
    return view(row);
  };

  return {
    async list(): Promise<Resource[]> {
      return (await db.resource.findMany({ orderBy: { slug: "asc" } })).map(view);
    },

    get,

    async find(slug: string): Promise<Resource | undefined> {
      const row = await db.resource.findUnique({ where: { slug } });
      return row ? view(row) : undefined;
    },

    /** Adds a resource; an external one comes with its credentials, returned here and never again. */
    async add(input: ResourceInput, by: ResourceActing): Promise<Resource & { credentials?: ResourceCredentials }> {
      const parsed = resourceInputSchema.safeParse(input);
      if (!parsed.success) throw new ResourceInputError(firstProblem(parsed.error));
      const { slug, name, toolScopes, keyRateLimit } = parsed.data;
      checkScopes(toolScopes);
      if (await db.resource.findUnique({ where: { slug } }))
        throw new ResourceInputError(`A resource "${slug}" exists already: change it with \`keyward resources update ${slug}\``);
      const transport = transportOfInput(parsed.data);
      if (transport.kind === "external" && (await db.resource.findUnique({ where: { external: transport.url } })))
        throw new ResourceInputError(`Another resource is the resource server at ${transport.url} already`);
      const credentials = transport.kind === "external" ? newCredentials() : undefined;
      const added = await db.$transaction(async (tx) => {
        const row = await tx.resource.create({
          data: {
            id: `res_${randomBase62(20)}`,
            slug,
            name,
            ...transportColumns(transport),
            toolScopes: JSON.stringify(toolScopes),
            keyRateLimit: keyRateLimit ?? null,
            ...(credentials ? { credentialId: credentials.clientId, credentialHash: credentials.secretHash } : {}),
          },
        });
        const created = view(row);
        await audit.record(event("resource.added", created, by, transportDetails(transport)), tx);
        return created;
      });
      await announceCommitted(db); // (a new slug was never held; announced anyway, so "added" means "served everywhere")
      return credentials ? { ...added, credentials: { clientId: credentials.clientId, clientSecret: credentials.clientSecret } } : added;
    },

    /**
     * New credentials for an external resource, returned here and never again: the old ones stop
     * working on every instance before this returns (introspection and event streams refuse them).
     */
    async rotateCredentials(slug: string, by: ResourceActing): Promise<{ resource: Resource; credentials: ResourceCredentials }> {
      const before = await get(slug);
      if (before.transport.kind !== "external")
        throw new ResourceInputError(`${slug} is not a resource server (--external): it has no credentials, the gateway serves it`);
      const credentials = newCredentials();
      const resource = await db.$transaction(async (tx) => {
        const row = view(
          await tx.resource.update({
            where: { slug },
            data: { credentialId: credentials.clientId, credentialHash: credentials.secretHash },
          }),
        );
        await audit.record(event("resource.credentials_rotated", row, by, { clientId: credentials.clientId }), tx);
        return row;
      });
      await announceCommitted(db);
      return { resource, credentials: { clientId: credentials.clientId, clientSecret: credentials.clientSecret } };
    },

    /** Changes what `change` names; the rest stays. Returns the resource as it is now. */
    async update(slug: string, change: ResourceChange, by: ResourceActing): Promise<Resource> {
      const parsed = resourceChangeSchema.safeParse(change);
      if (!parsed.success) throw new ResourceInputError(firstProblem(parsed.error));
      checkScopes(parsed.data.toolScopes);
      const before = await get(slug);
      const transport = changedTransport(before.transport, parsed.data);
      const data = {
        ...(parsed.data.name !== undefined ? { name: parsed.data.name } : {}),
        ...(transport ? changedColumns(before.transport, transport) : {}),
        ...(parsed.data.toolScopes !== undefined ? { toolScopes: JSON.stringify(parsed.data.toolScopes) } : {}),
        ...(parsed.data.keyRateLimit !== undefined ? { keyRateLimit: parsed.data.keyRateLimit } : {}),
      };
      if (Object.keys(data).length === 0) return before;
      const updated = await db.$transaction(async (tx) => {
        const row = view(await tx.resource.update({ where: { slug }, data }));
        await audit.record(event("resource.updated", row, by, { changed: Object.keys(data).join(" ") }), tx);
        return row;
      });
      // The extension does not see an interactive transaction's writes: every instance must let go of
      // the old resource before the caller is told it changed (src/keys/lookup/announce.ts).
      await announceCommitted(db);
      return updated;
    },

    /**
     * Removes the resource (its URL answers 404 from the next request on) and revokes every key bound
     * to it, alone or with other resources: a slug added again later must not bring old keys back.
     */
    async remove(slug: string, by: ResourceActing): Promise<{ resource: Resource; keysRevoked: number }> {
      const resource = await get(slug);
      await db.$transaction(async (tx) => {
        await tx.resource.delete({ where: { slug } });
        await tx.resourceHealth.deleteMany({ where: { resourceId: resource.id } });
        await audit.record(event("resource.removed", resource, by), tx);
      });
      await announceCommitted(db); // every instance answers 404 for it before anyone is told it is gone
      const revoked = await options.keys.revoke(
        { kind: "resource", resource: resource.url },
        { actor: by.actor, via: "resource_removed", ip: by.ip, userAgent: by.userAgent, note: { resource: slug } },
      );
      return { resource, keysRevoked: revoked.filter((r) => r.wasActive).length };
    },

    async health(resourceId: string): Promise<ResourceHealthView | null> {
      const row = await db.resourceHealth.findUnique({ where: { resourceId } });
      return row
        ? {
            lastOkAt: row.lastOkAt?.toISOString() ?? null,
            lastErrorAt: row.lastErrorAt?.toISOString() ?? null,
            lastError: row.lastError,
            latencyMs: row.latencyMs,
          }
        : null;
    },
  };
}

export type ResourceStore = ReturnType<typeof createResourceStore>;

type ParsedInput = { upstream?: string; command?: string[]; env?: Record<string, string>; cwd?: string; external?: string };

/** The transport an add names (input.ts has checked that it names exactly one). */
function transportOfInput(input: ParsedInput): Transport {
  if (input.command) return { kind: "stdio", command: input.command, env: input.env ?? {}, cwd: input.cwd ?? null };
  if (input.external) return { kind: "external", url: input.external };
  return { kind: "http", upstream: input.upstream! };
}

/**
 * The transport after a change, or undefined when the change leaves it alone. http and stdio may
 * replace each other (the URL and the keys stay); an external resource's URL is its keys' audience,
 * so it never changes, and no resource becomes or stops being external: remove it and add it again.
 */
function changedTransport(before: Transport, change: Omit<ParsedInput, "cwd"> & { cwd?: string | null }): Transport | undefined {
  if (change.external !== undefined || (before.kind === "external" && (change.upstream !== undefined || change.command !== undefined))) {
    if (before.kind === "external" && change.external === before.url) return undefined;
    throw new ResourceInputError(
      "A resource server's URL is the audience of its keys: it cannot change, and a resource cannot become or stop being one. Remove the resource and add it again",
    );
  }
  if (change.upstream !== undefined) {
    if (change.env !== undefined || change.cwd !== undefined)
      throw new ResourceInputError("env and cwd apply to a stdio resource (one with a command) only");
    return { kind: "http", upstream: change.upstream };
  }
  if (change.command !== undefined || change.env !== undefined || change.cwd !== undefined) {
    const was = before.kind === "stdio" ? before : undefined;
    const command = change.command ?? was?.command;
    if (!command) throw new ResourceInputError("env and cwd apply to a stdio resource (one with a command) only");
    return {
      kind: "stdio",
      command,
      env: change.env ?? was?.env ?? {},
      cwd: change.cwd === undefined ? (was?.cwd ?? null) : change.cwd,
    };
  }
  return undefined;
}

/** The columns a transport change writes: only those that differ, so an unchanged resource is not written at all. */
function changedColumns(before: Transport, after: Transport): Partial<ReturnType<typeof transportColumns>> {
  const old = transportColumns(before);
  const now = transportColumns(after);
  return Object.fromEntries(Object.entries(now).filter(([k, v]) => old[k as keyof typeof old] !== v));
}

/** What the audit trail records of a transport: where it points, never an environment value (it may hold a token). */
function transportDetails(t: Transport): Record<string, string> {
  switch (t.kind) {
    case "http":
      return { upstream: t.upstream };
    case "stdio":
      return { command: t.command.join(" "), ...(Object.keys(t.env).length ? { env: Object.keys(t.env).join(" ") } : {}) };
    case "external":
      return { external: t.url };
  }
}
