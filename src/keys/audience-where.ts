// Which key rows work (not revoked, not expired) and which name a resource among their audiences, as
// WHERE clauses. The `resource` column lists
// URLs separated by spaces (null: every resource), so a match is a whole entry: …/mcp/a is not …/mcp/ab.
// (LIKE reads a `_` in a URL as any one character: that can only match more rows, never fewer.)
import type { Prisma } from "../generated/sqlite/client.js";

/** Keys bound to `url`, alone or with others (not the unbound ones). */
export function boundTo(url: string): Prisma.ApiKeyWhereInput {
  return {
    OR: [
      { resource: url },
      { resource: { startsWith: `${url} ` } },
      { resource: { endsWith: ` ${url}` } },
      { resource: { contains: ` ${url} ` } },
    ],
  };
}

/** Keys that work at `url`: bound to it, or to every resource. */
export function worksAt(url: string): Prisma.ApiKeyWhereInput {
  return { OR: [{ resource: null }, ...boundTo(url).OR!] };
}

/** Keys that work at `now`: not revoked, and no expiry or a later one (a rolled key's end is its expiry). */
export function activeAt(now: Date): Prisma.ApiKeyWhereInput {
  return { revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] };
}
