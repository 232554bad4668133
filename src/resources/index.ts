// Protected resources: the MCP servers Keyward fronts at <ISSUER>/mcp/<slug> (src/gateway/).
// store.ts writes and lists them (with audit events), lookup.ts reads one per request (cached, never
// stale), identity.ts names them, input.ts validates what an operator says about them. Separate
// resource servers (external): credentials.ts and server-auth.ts (their credentials), introspection.ts
// and events-route.ts (what they call), docs/resource-servers.md.
import type { Db } from "../db/client.js";
import type { Audit } from "../audit/index.js";
import type { Keys } from "../keys/index.js";
import type { RowReader } from "../keys/lookup/index.js";
import { createResourceStore } from "./store.js";
import { createResourceLookup } from "./lookup.js";

export * from "./identity.js";
export { ResourceInputError, ResourceNotFoundError, type Resource, type ResourceActing, type ResourceHealthView } from "./store.js";
export { parseToolScope, type ResourceInput, type ResourceChange } from "./input.js";
export type { Transport, TransportKind } from "./transport.js";
export type { ResourceLookup } from "./lookup.js";

export function createResources(
  db: Db,
  options: {
    baseUrl: string;
    scopes: readonly string[];
    audit: Audit;
    keys: Keys;
    cacheOf?: <Row extends object>(reader: RowReader<Row>, maxRows: number) => RowReader<Row>;
  },
) {
  return {
    ...createResourceStore(db, options),
    lookup: createResourceLookup(db, options.baseUrl, options.cacheOf),
  };
}

export type Resources = ReturnType<typeof createResources>;
