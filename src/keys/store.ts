// Mint, list and get (revoke: revoke.ts). With revoke.ts and import.ts, the only code that writes key rows.
import { z } from "zod";
import { KeyInputError } from "./errors.js";
import type { Db } from "../db/client.js";
import type { Audit } from "../audit/index.js";
import { keyMinted, keyRenamed, type KeyActing } from "../audit/key-events.js";
import { checkFormat, generateKey, last4, randomBase62 } from "./format.js";
import { hashKey } from "./hash.js";
import type { LastUsedTracker } from "./last-used.js";
import { IDENTITY_SCOPES, toView, type KeySource, type KeyView } from "./view.js";
import { dpopJktSchema, labelSchema, resourcesSchema, scopeCatalogueError } from "./input.js";
import { createOrganizations } from "../orgs/organizations.js";
import { isManagementScope } from "../scopes/management.js";
import { activeAt, boundTo, worksAt } from "./audience-where.js";
import { providerOfDb } from "../db/provider.js";
import { isWellFormed } from "../http/well-formed.js";
import { idsWithLabelContaining } from "./label-search.js";
import type { ApiKey, Prisma } from "../generated/sqlite/client.js";
import { applyLifetimeCap } from "./expiry.js";
import { limitsAtMint } from "./limits/store.js";
import { lockClientKeys } from "./client-lock.js";

export { KeyInputError };

export interface MintRequest {
  userId: string;
  label: string;
  source: KeySource;
  clientId?: string | null;
  scopes?: string[];
  /**
   * RFC 8707 audiences: the resource URLs the key works at (an OAuth key: the one its client asked for;
   * a portal key: the ones its owner picked). Null or absent: every resource.
   */
  resources?: readonly string[] | null;
  /** The OAuth grant the key is issued under (oidc-provider revokes keys by grant). */
  grantId?: string | null;
  /** The organisation the key acts in; default the user's personal one. The user must be a member. */
  organizationId?: string | null;
  /** App keys: the app (of `organizationId`) that owns the key; `userId` is the admin minting it. */
  appId?: string | null;
  /** RFC 9449 DPoP: the JWK thumbprint the key is bound to (the token endpoint's, from the client's proof). */
  dpopJkt?: string | null;
  /** IP allowlist (CIDR ranges); absent on an OAuth key: its client's for this user (src/keys/limits/). */
  allowedIps?: readonly string[] | null;
  /** Requests per minute; absent on an OAuth key: its client's for this user. */
  rateLimit?: number | null;
  /**
   * When the key stops working (./expiry.ts parseExpiry); null or absent: never. Capped by the
   * organisation's policy: a longer ask is refused, except for OAuth keys, which get the cap.
   */
  expiresAt?: Date | null;
  /** A roll's replacement (./roll.ts): a lifetime beyond the organisation's cap is cut to the cap, not refused. */
  capExpiry?: boolean;
}

/** Runs inside the mint's transaction, after the row is written (a roll claims the old key there: ./roll.ts). */
export type WithinMint = (tx: Prisma.TransactionClient, created: ApiKey) => Promise<void>;

/** A key as an organisation admin sees it: whose it is, too. */
export interface MemberKeyView extends KeyView {
  ownerId: string;
  ownerEmail: string;
}

export interface Minted {
  /** The raw key: exists only in this return value, to be shown once. */
  raw: string;
  key: KeyView;
}

const cursorSchema = z.object({ c: z.iso.datetime(), i: z.string().max(100) });

function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(JSON.stringify({ c: createdAt.toISOString(), i: id })).toString("base64url");
}

/** A cursor this server did not make is an input error, not a crash. */
function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const parsed = cursorSchema.parse(JSON.parse(Buffer.from(cursor.slice(0, 500), "base64url").toString("utf8")));
    return { createdAt: new Date(parsed.c), id: parsed.i };
  } catch {
    throw new KeyInputError("invalid cursor: pass the next_cursor of a previous page");
  }
}

/** What the key list may be narrowed to (the account page's search and filters, the JSON API's query). */
export interface KeyFilter {
  /** Part of the label, any case (SQLite: ASCII letters only; PostgreSQL: any letter). */
  q?: string;
  /** active: neither revoked nor expired; expired: not revoked, past its expiry. */
  status?: "active" | "revoked" | "expired";
  source?: KeySource;
  /** A resource URL: the keys that work there (bound to it, or to every resource). */
  resource?: string;
}

/** How many keys a user has, and how many of them are active. */
export interface KeyCount {
  total: number;
  active: number;
}

/** Searches with these run through ./label-search.ts: in LIKE they would be wildcards (or PostgreSQL's escape). */
const LIKE_SPECIAL = /[%_\\]/;

/** The user's own keys (not app keys) that `filter` keeps: a WHERE clause, so paging pages the filtered list. */
async function filterWhere(db: Db, userId: string, filter: KeyFilter = {}): Promise<Prisma.ApiKeyWhereInput> {
  const q = filter.q?.trim();
  const postgres = providerOfDb(db) === "postgresql";
  let label: Prisma.ApiKeyWhereInput = {};
  if (q && LIKE_SPECIAL.test(q)) label = { id: { in: await idsWithLabelContaining(db, userId, q) } };
  // PostgreSQL's LIKE is case-sensitive (Prisma's `mode: "insensitive"` is ILIKE there); SQLite's is not, and has no `mode`.
  else if (q) label = { label: (postgres ? { contains: q, mode: "insensitive" } : { contains: q }) as Prisma.StringFilter };
  const now = new Date();
  const status: Prisma.ApiKeyWhereInput[] =
    filter.status === "active"
      ? [activeAt(now)]
      : filter.status === "expired"
        ? [{ revokedAt: null, expiresAt: { lte: now } }]
        : filter.status === "revoked"
          ? [{ revokedAt: { not: null } }]
          : [];
  const and = [...status, ...(filter.resource ? [worksAt(filter.resource)] : [])];
  return {
    userId,
    appId: null,
    ...label,
    ...(filter.source ? { source: filter.source } : {}),
    ...(and.length ? { AND: and } : {}),
  };
}

/**
 * The expiry a key minted now in this organisation gets: the one asked for, within the organisation's
 * cap (./expiry.ts). An organisation that does not exist is left to the membership check that follows.
 */
export async function lifetimeOf(
  db: Pick<Db, "organization">,
  organizationId: string,
  asked: Date | null,
  mode: "refuse" | "capped",
): Promise<Date | null> {
  if (asked && !Number.isFinite(asked.getTime())) throw new KeyInputError("Not a valid expiry");
  const org = await db.organization.findUnique({ where: { id: organizationId }, select: { name: true, maxKeyLifetimeDays: true } });
  if (!org) return asked;
  return applyLifetimeCap(asked, { maxDays: org.maxKeyLifetimeDays, organizationName: org.name }, new Date(), mode);
}

export function newKeyId(): string {
  return `key_${randomBase62(20)}`;
}

export function createKeyService(db: Db, options: { prefix: string; scopes: readonly string[]; tracker: LastUsedTracker; audit: Audit }) {
  const view = (row: Parameters<typeof toView>[0]) => toView(row, options.tracker.pendingFor(row.id));
  const orgs = createOrganizations(db);
  return {
    /** A fresh raw key in this server's format (the OAuth token endpoint names its token with it). */
    newRawKey(): string {
      return generateKey(options.prefix);
    },

    /**
     * Stores a key and its `key.minted` event, in one transaction: no key without its event. `by`: who
     * mints, through which route, from where. `raw` is given only by the OAuth token endpoint, which
     * generated it with newRawKey().
     */
    async mint(req: MintRequest, by: KeyActing, raw: string = generateKey(options.prefix), within?: WithinMint): Promise<Minted> {
      if (checkFormat(raw)) throw new KeyInputError("not a key in this server's format");
      const label = labelSchema.safeParse(req.label);
      if (!label.success) throw new KeyInputError(label.error.issues[0]!.message);
      const scopes = req.scopes ?? [];
      // Catalogue scopes; OAuth keys may also carry the OpenID Connect identity scopes the user
      // approved (userinfo), other keys Keyward's own API's (keys:*, orgs:*; who may grant which:
      // mint-policy.ts). OAuth clients never get management scopes.
      const extra = req.source === "oauth" ? (s: string) => (IDENTITY_SCOPES as readonly string[]).includes(s) : isManagementScope;
      const scopeError = scopeCatalogueError(
        scopes.filter((s) => !extra(s)),
        options.scopes,
      );
      if (scopeError) throw new KeyInputError(scopeError);
      const resources = resourcesSchema.safeParse(req.resources ?? null);
      if (!resources.success) throw new KeyInputError(resources.error.issues[0]!.message);
      if (req.dpopJkt != null && !dpopJktSchema.safeParse(req.dpopJkt).success) throw new KeyInputError("not a JWK thumbprint");
      const limits = await limitsAtMint(db, req); // IP allowlist and rate limit (issue 28)
      const organizationId = req.organizationId ?? (await orgs.ensurePersonal(req.userId));
      const expiresAt = await lifetimeOf(
        db,
        organizationId,
        req.expiresAt ?? null,
        req.source === "oauth" || req.capExpiry ? "capped" : "refuse",
      );
      if (req.appId) {
        if (!(await db.app.findFirst({ where: { id: req.appId, organizationId } })))
          throw new KeyInputError("No such app in that organisation");
      } else if (!(await db.membership.findUnique({ where: { organizationId_userId: { organizationId, userId: req.userId } } }))) {
        throw new KeyInputError("You are not a member of that organisation");
      }
      const data = {
        id: newKeyId(),
        userId: req.userId,
        hash: hashKey(raw),
        last4: last4(raw),
        label: label.data || "Untitled key",
        source: req.source,
        clientId: req.clientId ?? null,
        scopes: scopes.join(" "),
        resource: resources.data === null ? null : resources.data.join(" "),
        grantId: req.grantId ?? null,
        organizationId,
        appId: req.appId ?? null,
        dpopJkt: req.dpopJkt ?? null,
        ...limits,
        expiresAt,
      };
      const row = await db.$transaction(async (tx) => {
        if (data.clientId) await lockClientKeys(tx, providerOfDb(db), data.clientId);
        const created = await tx.apiKey.create({ data });
        await options.audit.record(keyMinted(req.userId, view(created), by), tx);
        if (within) await within(tx, created);
        return created;
      });
      return { raw, key: view(row) };
    },

    /**
     * The lifetime cap (seconds) of the keys the OAuth token endpoint mints for this user: they act in
     * the user's personal organisation, whose policy may cap them. Null: no cap.
     */
    async oauthLifetimeCapSeconds(userId: string): Promise<number | null> {
      const org = await db.organization.findUnique({ where: { personalOwnerId: userId }, select: { maxKeyLifetimeDays: true } });
      return org?.maxKeyLifetimeDays ? org.maxKeyLifetimeDays * 86_400 : null;
    },

    /** The user's own keys (not app keys they minted), newest first; revoked keys stay for the audit trail. */
    async list(userId: string): Promise<KeyView[]> {
      const rows = await db.apiKey.findMany({ where: { userId, appId: null }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
      return rows.map(view);
    },

    /**
     * One page of a user's keys, newest first, for the account page and the JSON API (a user with
     * very many keys must not load them all). `cursor` comes from the previous page's nextCursor.
     */
    async page(
      userId: string,
      options: { limit?: number; cursor?: string; filter?: KeyFilter } = {},
    ): Promise<{ items: KeyView[]; nextCursor: string | null }> {
      const limit = Math.min(Math.max(options.limit ?? 50, 1), 500);
      const after = options.cursor ? decodeCursor(options.cursor) : null;
      const rows = await db.apiKey.findMany({
        where: {
          ...(await filterWhere(db, userId, options.filter)),
          ...(after ? { OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] } : {}),
        },
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        take: limit + 1,
      });
      const items = rows.slice(0, limit);
      const last = items[items.length - 1];
      return { items: items.map(view), nextCursor: rows.length > limit && last ? encodeCursor(last.createdAt, last.id) : null };
    },

    /** How many of the user's own keys `filter` keeps, and how many of those are active. */
    async count(userId: string, filter: KeyFilter = {}): Promise<KeyCount> {
      const where = await filterWhere(db, userId, filter);
      const [total, active] = await Promise.all([
        db.apiKey.count({ where }),
        filter.status === "revoked" || filter.status === "expired"
          ? Promise.resolve(0)
          : db.apiKey.count({ where: { AND: [where, activeAt(new Date())] } }),
      ]);
      return { total, active };
    },

    /**
     * The user's own keys with these ids, in the order asked, or null when any of them is missing or
     * another user's (the caller answers exactly as for one missing id). Duplicates count once.
     */
    async getMany(userId: string, ids: readonly string[]): Promise<KeyView[] | null> {
      const unique = [...new Set(ids)];
      const rows = await db.apiKey.findMany({ where: { id: { in: unique }, userId, appId: null } });
      if (rows.length !== unique.length) return null;
      const byId = new Map(rows.map((r) => [r.id, r]));
      return unique.map((id) => view(byId.get(id)!));
    },

    /**
     * Gives one of the user's own keys a new label, with its `key.renamed` event (the old label in
     * it) in the same transaction. Null: no such key of this user (another user's id answers the same).
     */
    async rename(userId: string, id: string, label: string, by: KeyActing): Promise<KeyView | null> {
      const parsed = labelSchema.safeParse(label);
      if (!parsed.success) throw new KeyInputError(parsed.error.issues[0]!.message);
      if (!parsed.data) throw new KeyInputError("Label must not be empty");
      if (!isWellFormed(parsed.data)) throw new KeyInputError("Label must be well-formed Unicode");
      return db.$transaction(async (tx) => {
        const before = await tx.apiKey.findFirst({ where: { id, userId, appId: null } });
        if (!before) return null;
        if (before.label === parsed.data) return view(before);
        await tx.apiKey.updateMany({ where: { id: before.id }, data: { label: parsed.data } });
        const after = view({ ...before, label: parsed.data });
        await options.audit.record(keyRenamed(userId, after, { ...by, note: { ...by.note, previousLabel: before.label } }), tx);
        return after;
      });
    },

    /** The user's OAuth keys (for the connected-apps view). */
    async listOAuth(userId: string): Promise<KeyView[]> {
      const rows = await db.apiKey.findMany({
        where: { userId, appId: null, source: "oauth" },
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        take: 5000,
      });
      return rows.map(view);
    },

    /** Another user's id and a missing id are the same: null. */
    async get(userId: string, id: string): Promise<KeyView | null> {
      const row = await db.apiKey.findFirst({ where: { id, userId, appId: null } });
      return row ? view(row) : null;
    },

    /** Members' keys bound to an organisation (app keys are listed per app), newest first. */
    async listForOrganization(organizationId: string): Promise<MemberKeyView[]> {
      const rows = await db.apiKey.findMany({
        where: { organizationId, appId: null },
        include: { user: true },
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      });
      return rows.map((r) => ({ ...view(r), ownerId: r.userId, ownerEmail: r.user.email }));
    },

    /**
     * How many working keys (not revoked, not expired) are bound to this resource URL, alone or with others (whole entries of the
     * space-separated list, as revoke.ts's "resource" target matches). Keys bound to every resource are not counted.
     */
    async countBoundTo(resourceUrl: string): Promise<number> {
      return db.apiKey.count({ where: { AND: [activeAt(new Date()), boundTo(resourceUrl)] } });
    },

    /**
     * Whether the user still holds a working key (not revoked, not expired) of theirs (not an app's) in the organisation that works at
     * `resourceUrl` (bound to it, or to every resource), and is still a member of it (a removed member's
     * keys stop working without being revoked). The stdio gateway ends a process whose user no longer
     * does (src/gateway/stdio/processes.ts); a deleted user has no keys left (they cascade).
     */
    async holdsKeyAt(owner: { userId: string; organizationId: string }, resourceUrl: string): Promise<boolean> {
      const found = await db.apiKey.findFirst({
        where: {
          userId: owner.userId,
          organizationId: owner.organizationId,
          appId: null,
          // A disabled owner (src/admin/) holds no working key: their stdio processes end at the next check.
          user: { disabledAt: null, memberships: { some: { organizationId: owner.organizationId } } },
          AND: [activeAt(new Date()), worksAt(resourceUrl)],
        },
        select: { id: true },
      });
      return found !== null;
    },

    /** An app's keys, newest first. */
    async listForApp(appId: string): Promise<KeyView[]> {
      const rows = await db.apiKey.findMany({ where: { appId }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
      return rows.map(view);
    },
  };
}

export type KeyService = ReturnType<typeof createKeyService>;
