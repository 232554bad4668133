// The gateway's read of a resource by slug, on every request: held in memory behind the key lookup's
// change token (src/keys/lookup/index.ts cacheOf), so a resource added, changed or removed through
// any instance or the CLI is seen on the very next request, exactly like a revoked key. Unknown slugs
// are never held (a flood of made-up paths cannot evict real resources).
import type { Db } from "../db/client.js";
import type { RowReader } from "../keys/lookup/index.js";
import { slugOfUrl } from "./identity.js";
import { toResource, type Resource } from "./store.js";

export interface ResourceLookup {
  bySlug(slug: string): Promise<Resource | undefined>;
  /** The gateway resource this URL names (`<ISSUER>/mcp/<slug>`); undefined for any other URL. */
  byUrl(url: string): Promise<Resource | undefined>;
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
  const reader = cacheOf(fromDb, MAX_HELD);
  const bySlug = (slug: string) => reader.find(slug);
  return {
    bySlug,
    async byUrl(url) {
      const slug = slugOfUrl(baseUrl, url);
      return slug === undefined ? undefined : bySlug(slug);
    },
  };
}
