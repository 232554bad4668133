// `keyward api-keys create|list|rename|revoke` without --user: the same operations on a remote server
// through its JSON API, with the stored key or KEYWARD_TOKEN. The JSON API refuses keys bound to
// <server>/mcp (what `auth login` receives), so remote management needs an unbound key: a portal
// or CLI key stored with `keyward auth set-token` or given in KEYWARD_TOKEN (docs/cli.md).
import { z } from "zod";
import type { KeyView, LimitChanges } from "../../keys/index.js";
import { CliError } from "../errors.js";
import type { BulkTarget } from "../commands/api-keys-bulk.js";
import { note, out, printJson } from "../io.js";
import { bearer, call, errorText, failure, resolveTarget, TOKEN_ENV, type Target, authFailure } from "./client.js";

export interface RemoteOptions {
  user?: string;
  server?: string;
  json?: boolean;
}

/** The --user email for the local-database form, or null for the remote form. Both is a usage error. */
export function localUser(options: RemoteOptions): string | null {
  if (options.user !== undefined && options.server !== undefined)
    throw CliError.usage("give --user (this machine's database) or --server (a remote server), not both");
  return options.user ?? null;
}

const keyView = z.looseObject({
  id: z.string(),
  label: z.string(),
  last4: z.string(),
  status: z.enum(["active", "revoked", "expired"]),
  source: z.enum(["portal", "oauth", "cli", "unknown"]),
  sourceLabel: z.string(),
  clientId: z.string().nullable(),
  scopes: z.array(z.string()),
  resources: z.array(z.string()).nullable(),
  organizationId: z.string().nullable().default(null),
  appId: z.string().nullable().default(null),
  dpopJkt: z.string().nullable().default(null),
  allowedIps: z.array(z.string()).nullable().default(null),
  rateLimit: z.number().int().nullable().default(null),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  expiresAt: z.string().nullable().default(null),
  replacedById: z.string().nullable().default(null),
});
const minted = keyView.extend({ key: z.string() });

async function api(target: Target, what: string, path: string, init: RequestInit = {}): Promise<unknown> {
  const res = await call(target.server, `/api/api-keys${path}`, {
    ...init,
    headers: { ...bearer(target.key), Accept: "application/json", ...init.headers },
  });
  if (res.status === 401) {
    const text = await errorText(res);
    if (/another resource/i.test(text) || (target.from === "file" && target.stored?.via === "login")) {
      throw authFailure(
        `${what}: the key ${target.from === "env" ? `in ${TOKEN_ENV}` : "from `keyward auth login`"} is bound to ${target.server}/mcp and cannot manage keys; mint a portal key on the account page and store it with \`keyward auth set-token --server ${target.server}\` (or set ${TOKEN_ENV})`,
      );
    }
    throw authFailure(`${what}: authentication failed: ${text}`);
  }
  if (!res.ok) throw await failure(res, what);
  return res.json().catch(() => {
    throw new CliError(`${what}: ${target.server} answered with something other than JSON`);
  });
}

function parsed<T>(schema: z.ZodType<T>, value: unknown, what: string, server: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new CliError(`${what}: ${server} did not answer like a Keyward server`);
  return result.data;
}

/** `resources`: slugs or URLs the server resolves (400 naming an unknown one); null: every resource. */
export async function remoteCreate(
  label: string,
  scopes: string[],
  options: RemoteOptions,
  resources: string[] | null = null,
  limits: LimitChanges = {},
  expires?: string,
): Promise<void> {
  const target = resolveTarget(options.server);
  const body = await api(target, "create", "", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ label, scopes, ...(resources ? { resources } : {}), ...limits, ...(expires !== undefined ? { expires } : {}) }),
  });
  const key = parsed(minted, body, "create", target.server);
  if (options.json) return printJson(key);
  out(key.key);
  const works = key.resources ? key.resources.join(", ") : "all resources";
  note(
    `Created API key ${key.id} "${key.label}" on ${target.server} (${key.scopes.length ? key.scopes.join(" ") : "full access"}; works at: ${works}; expires: ${key.expiresAt ?? "never"}).`,
  );
  note("Copy it now: it will not be shown again.");
}

export async function remoteList(options: RemoteOptions, table: (keys: KeyView[]) => string): Promise<void> {
  const target = resolveTarget(options.server);
  const body = parsed(z.object({ data: z.array(keyView) }), await api(target, "list", ""), "list", target.server);
  const keys: KeyView[] = body.data;
  if (options.json) printJson(keys);
  else if (keys.length === 0) note(`No API keys on ${target.server}.`);
  else out(table(keys));
}

export async function remoteRevoke(id: string, options: RemoteOptions): Promise<void> {
  const target = resolveTarget(options.server);
  const before = parsed(keyView, await api(target, "revoke", `/${encodeURIComponent(id)}`), "revoke", target.server);
  const after = parsed(keyView, await api(target, "revoke", `/${encodeURIComponent(id)}`, { method: "DELETE" }), "revoke", target.server);
  if (options.json) printJson(after);
  else out(before.status === "revoked" ? `API key ${id} was already revoked.` : `Revoked API key ${id} "${after.label}".`);
}

/** POST /api/api-keys/:id/roll: the new key (printed once) and the old one's end. */
export async function remoteRoll(id: string, overlap: string, options: RemoteOptions): Promise<void> {
  const target = resolveTarget(options.server);
  const body = await api(target, "roll", `/${encodeURIComponent(id)}/roll`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ overlap }),
  });
  const rolled = parsed(minted.extend({ replaces: keyView }), body, "roll", target.server);
  if (options.json) return printJson(rolled);
  out(rolled.key);
  note(
    `Rolled API key ${id} on ${target.server}: the new key is ${rolled.id} "${rolled.label}"; ${id} works until ${rolled.replaces.expiresAt}.`,
  );
  note("Copy it now: it will not be shown again.");
}

export async function remoteRename(id: string, label: string, options: RemoteOptions): Promise<void> {
  const target = resolveTarget(options.server);
  const body = await api(target, "rename", `/${encodeURIComponent(id)}`, {
    method: "PATCH",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ label }),
  });
  const key = parsed(keyView, body, "rename", target.server);
  if (options.json) printJson(key);
  else out(`Renamed API key ${id} to "${key.label}".`);
}

/** PATCH /api/api-keys/:id with new limits (issue 28): the key as it is now. */
export async function remoteUpdateLimits(id: string, changes: LimitChanges, options: RemoteOptions): Promise<KeyView> {
  const target = resolveTarget(options.server);
  const body = await api(target, "update", `/${encodeURIComponent(id)}`, {
    method: "PATCH",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(changes),
  });
  return parsed(keyView, body, "update", target.server);
}

/** POST /api/api-keys/revoke: the keys it revoked (or, with dry_run, would revoke). */
export async function remoteBulkRevoke(bulk: BulkTarget, options: RemoteOptions): Promise<KeyView[]> {
  const target = resolveTarget(options.server);
  const request = bulk.kind === "ids" ? { ids: bulk.ids, dry_run: bulk.dryRun } : { unused_days: bulk.days, dry_run: bulk.dryRun };
  const body = await api(target, "revoke", "/revoke", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(request),
  });
  return parsed(z.object({ data: z.array(keyView) }), body, "revoke", target.server).data;
}

// Usage (issue 28 item 5): GET /api/api-keys/:id/usage, checked for its shape.
const totals = { requests: z.number(), unauthorized: z.number(), forbidden: z.number(), limited: z.number() };
const usageReport = z.object({
  key_id: z.string(),
  from: z.string(),
  to: z.string(),
  totals: z.object(totals),
  days: z.array(z.object({ date: z.string(), ...totals })),
  hours: z.array(z.object({ hour: z.string(), ...totals })),
});

export async function remoteUsage(id: string, options: RemoteOptions): Promise<z.infer<typeof usageReport>> {
  const target = resolveTarget(options.server);
  return parsed(usageReport, await api(target, "usage", `/${encodeURIComponent(id)}/usage`), "usage", target.server);
}
