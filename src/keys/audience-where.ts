// Which key rows name a resource among their audiences, as a WHERE clause. The `resource` column lists
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
