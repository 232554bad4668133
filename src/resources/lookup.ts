// The gateway's read of a resource by slug, on every request: held in memory behind the key lookup's
// change token (src/keys/lookup/index.ts cacheOf), so a resource added, changed or removed through
// any instance or the CLI is seen on the very next request, exactly like a revoked key. Unknown slugs
// are never held (a flood of made-up paths cannot evict real resources). External resources are also
// found by their own URL (consent binds keys to it) and by their credentials' client id
// (introspection, event streams), held the same way.
import type { Db } from "../db/client.js";
import type { RowReader } from "../keys/lookup/index.js";
import { slugOfUrl } from "./identity.js";
import { looksLikeCredentialId } from "./credentials.js";
import { toResource, type Resource } from "./store.js";

/** An external resource with the stored hash of its credentials' secret (never shown, only compared). */
export interface CredentialHolder {
  resource: Resource;
  secretHash: string;
}

export interface ResourceLookup {
  bySlug(slug: string): Promise<Resource | undefined>;
  /** The resource this URL names: a gateway resource (`<ISSUER>/mcp/<slug>`) or an external server's own URL; undefined for any other. */
  byUrl(url: string): Promise<Resource | undefined>;
  /** The external resource whose credentials have this client id. */
  byCredential(clientId: string): Promise<CredentialHolder | undefined>;
}

const MAX_HELD = 1000;

export function createResourceLookup(
  db: Db,
  baseUrl: string,
  cacheOf: <Row extends object>(reader: RowReader<Row>, maxRows: number) => RowReader<Row> = (reader) => reader,
): ResourceLookup {
  const fromDb: RowReader<Resource> = {
    async find(slug) {
      const row = await db.resource.findUnique({ where: { slug } });
      return row ? toResource(row, baseUrl) : undefined;
    },
  };
  const external: RowReader<Resource> = {
    async find(url) {
      const row = await db.resource.findUnique({ where: { external: url } });
      return row ? toResource(row, baseUrl) : undefined;
    },
  };
  const credentials: RowReader<CredentialHolder> = {
    async find(clientId) {
      const row = await db.resource.findUnique({ where: { credentialId: clientId } });
      return row?.external && row.credentialHash ? { resource: toResource(row, baseUrl), secretHash: row.credentialHash } : undefined;
    },
  };
  const reader = cacheOf(fromDb, MAX_HELD);
  const byExternal = cacheOf(external, MAX_HELD);
  const byCredential = cacheOf(credentials, MAX_HELD);
  const bySlug = (slug: string) => reader.find(slug);
  return {
    bySlug,
    async byUrl(url) {
      const slug = slugOfUrl(baseUrl, url);
      if (slug !== undefined) return bySlug(slug);
      return /^https?:\/\//.test(url) && url.length <= 2048 ? byExternal.find(url) : undefined;
    },
    async byCredential(clientId) {
      return looksLikeCredentialId(clientId) ? byCredential.find(clientId) : undefined;
    },
  };
}
