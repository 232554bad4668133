// Discovery, attributed to the client that did it (issue 26 item 1). The first steps of a connection —
// the MCP server's 401 challenge, its protected resource metadata (RFC 9728), the authorization
// server's metadata (RFC 8414, or OpenID Connect discovery) — carry no client id: the client does not
// exist yet. So each instance remembers, per client address and User-Agent, the documents fetched in
// the last ten minutes (bounded: DISCOVERY_CLIENTS callers, DISCOVERY_DOCUMENTS documents each), and
// the registration from the same address and User-Agent (for a metadata-document client, which does
// not register, its code exchange) takes them as one "discovery" step of that client. Best effort, said so on the
// page: discovery answered by another instance, or behind an address many hosts share, may be missing
// or be another host's (these are public documents: nothing private is ever attributed).
import type { Next } from "koa";
import { LRUCache } from "lru-cache";
import type { Ctx } from "../http/state.js";

export const DISCOVERY_WINDOW_MS = 10 * 60_000;
const DISCOVERY_CLIENTS = 5_000;
const DISCOVERY_DOCUMENTS = 8;

/** A discovery request: the well-known documents, or an MCP request with no credential (the 401 that points to them). */
const WELL_KNOWN = [
  "/.well-known/oauth-protected-resource",
  "/.well-known/oauth-authorization-server",
  "/.well-known/openid-configuration",
];

export interface FetchedDocument {
  /** `GET /.well-known/oauth-protected-resource/mcp → 200` */
  what: string;
  at: number;
}

export function isDiscovery(method: string, path: string, status: number, credentialSent: boolean): boolean {
  if (status >= 500) return false;
  if (method === "GET" && WELL_KNOWN.some((p) => path === p || path.startsWith(`${p}/`))) return true;
  // /mcp, /mcp/<slug>: the challenge that names the resource metadata
  return status === 401 && !credentialSent && (path === "/mcp" || path.startsWith("/mcp/"));
}

export function createDiscoveryMemory() {
  const seen = new LRUCache<string, FetchedDocument[]>({ max: DISCOVERY_CLIENTS, ttl: DISCOVERY_WINDOW_MS });
  const keyOf = (address: string, userAgent: string | undefined) => `${address}\n${(userAgent ?? "").slice(0, 300)}`;
  return {
    note(address: string, userAgent: string | undefined, request: { method: string; path: string; status: number }, at = Date.now()): void {
      const key = keyOf(address, userAgent);
      const docs = seen.get(key) ?? [];
      const what = `${request.method} ${request.path.slice(0, 200)} → ${request.status}`;
      if (docs.some((d) => d.what === what)) return;
      seen.set(key, [...docs, { what, at }].slice(-DISCOVERY_DOCUMENTS));
    },
    /** What this caller fetched lately, oldest first; forgotten once taken (one client gets it). */
    take(address: string, userAgent: string | undefined): FetchedDocument[] {
      const key = keyOf(address, userAgent);
      const docs = seen.get(key) ?? [];
      seen.delete(key);
      return docs;
    },
  };
}

export type DiscoveryMemory = ReturnType<typeof createDiscoveryMemory>;

/** Koa middleware (outside the error handler: it reads the status the client got): notes each discovery request. */
export function noteDiscovery(memory: DiscoveryMemory) {
  return async (ctx: Ctx, next: Next): Promise<void> => {
    await next();
    const credentialSent = Boolean(ctx.get("authorization") || ctx.get("x-api-key"));
    if (isDiscovery(ctx.method, ctx.path, ctx.status, credentialSent))
      memory.note(ctx.ip, ctx.get("user-agent") || undefined, { method: ctx.method, path: ctx.path, status: ctx.status });
  };
}
