// The connection doctor's record (table ConnectionEvent, migrations 0026 and 0027): the steps of OAuth
// connection attempts and their failures, per client and user, and the refusals of keys that belong
// to no client (portal, CLI keys: clientId null), per key and user. Writes are fire-and-forget: they
// never delay or fail the request that caused them (an error is logged). Bounded three ways: the same
// event again within a minute is not written twice (a client retrying in a loop), each client keeps
// its newest EVENTS_PER_CLIENT events per user (and as many before a user is known; a key without a
// client as many per user), and housekeeping deletes events older than EVENT_TTL_MS. No secret is
// ever passed in: reasons are plain words from reasons.ts, details are URLs, scopes, names and methods.
import type { Db } from "../db/client.js";
import type { Logger } from "../log.js";
import { describe, type ConnectionFailure } from "./reasons.js";

export const EVENTS_PER_CLIENT = 50;
export const EVENT_TTL_MS = 14 * 86_400_000;
const REPEAT_WINDOW_MS = 60_000;
const NEWEST = [{ createdAt: "desc" as const }, { id: "desc" as const }];

export type ConnectionStep = "discovery" | "registration" | "authorization" | "consent" | "token" | "mcp_request";
export type Detail = Record<string, string | number | boolean | null | string[]>;

export interface NewConnectionEvent {
  /** null: a key that belongs to no OAuth client (portal, CLI); keyId is then required. */
  clientId: string | null;
  userId?: string | null;
  keyId?: string | null;
  step: ConnectionStep;
  outcome: "ok" | "failed";
  /** Why it failed; for a success, something the person should know (no resource parameter). */
  reason?: ConnectionFailure;
  detail?: Detail;
  /** When it happened, when that was before it is recorded (a step whose details took a lookup); default now. */
  at?: Date;
}

export interface ConnectionEvent {
  id: number;
  clientId: string | null;
  userId: string | null;
  keyId: string | null;
  step: ConnectionStep;
  outcome: "ok" | "failed";
  reason: string;
  detail: Detail;
  createdAt: string;
}

interface Row {
  id: number;
  clientId: string | null;
  userId: string | null;
  keyId: string | null;
  step: string;
  outcome: string;
  reason: string;
  detail: string;
  createdAt: Date;
}

function parseDetail(text: string): Detail {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Detail) : {};
  } catch {
    return {};
  }
}

const toEvent = (r: Row): ConnectionEvent => ({
  id: r.id,
  clientId: r.clientId,
  userId: r.userId,
  keyId: r.keyId,
  step: r.step as ConnectionStep,
  outcome: r.outcome === "failed" ? "failed" : "ok",
  reason: r.reason,
  detail: parseDetail(r.detail),
  createdAt: r.createdAt.toISOString(),
});

/** Short strings only: a client's metadata can be long, and a detail is for reading, not for storage. */
function clip(detail: Detail): Detail {
  const out: Detail = {};
  for (const [name, value] of Object.entries(detail)) {
    out[name] =
      typeof value === "string" ? value.slice(0, 300) : Array.isArray(value) ? value.slice(0, 10).map((v) => v.slice(0, 300)) : value;
  }
  return out;
}

export function createConnectionEvents(db: Db, logger: Logger) {
  const recent = new Map<string, number>();
  const pending = new Set<Promise<unknown>>();
  const track = (work: Promise<unknown>) => {
    const p = work.finally(() => pending.delete(p));
    pending.add(p);
  };

  const write = async (e: NewConnectionEvent): Promise<void> => {
    const userId = e.userId ?? null;
    const keyId = e.keyId ?? null;
    if (e.clientId === null && keyId === null) throw new Error("a connection event needs a client or a key");
    await db.connectionEvent.create({
      data: {
        clientId: e.clientId?.slice(0, 300) ?? null,
        userId,
        keyId,
        step: e.step,
        outcome: e.outcome,
        reason: e.reason ? describe(e.reason).slice(0, 1000) : "",
        detail: JSON.stringify(clip(e.detail ?? {})),
        createdAt: e.at ?? new Date(),
      },
    });
    // The bound: per client and user, or per key and user for a key of no client.
    const group = e.clientId !== null ? { clientId: e.clientId, userId } : { clientId: null, keyId, userId };
    const cutoff = await db.connectionEvent.findMany({
      where: group,
      orderBy: { id: "desc" },
      skip: EVENTS_PER_CLIENT - 1,
      take: 1,
      select: { id: true },
    });
    if (cutoff[0]) await db.connectionEvent.deleteMany({ where: { ...group, id: { lt: cutoff[0].id } } });
  };

  return {
    /** Records an event in the background; never throws, never waits. */
    record(e: NewConnectionEvent): void {
      const now = Date.now();
      const same = [
        e.clientId ?? "",
        e.userId ?? "",
        e.keyId ?? "",
        e.step,
        e.outcome,
        e.reason ? describe(e.reason) : "",
        JSON.stringify(e.detail ?? {}),
      ].join("\n");
      const last = recent.get(same);
      if (last !== undefined && now - last < REPEAT_WINDOW_MS) return;
      if (recent.size > 5000) recent.clear();
      recent.set(same, now);
      track(
        write({ ...e, at: e.at ?? new Date(now) }).catch((err: unknown) =>
          logger.warn({ err, step: e.step }, "connection doctor: an event was not recorded"),
        ),
      );
    },

    /** Work that ends in record() (a lookup first): settled() waits for it too. */
    track,

    /** Resolves once every event recorded so far is written (tests, shutdown). */
    async settled(): Promise<void> {
      // A few rounds: a lookup's write is added once the lookup is done. Bounded, so that a busy server's
      // steady stream of new writes never keeps a waiter waiting.
      for (let round = 0; round < 5 && pending.size > 0; round++) await Promise.all([...pending]);
    },

    /** The newest events of a client, all users (operators: `keyward doctor --client`). */
    async ofClient(clientId: string, limit = 20): Promise<ConnectionEvent[]> {
      const rows = await db.connectionEvent.findMany({ where: { clientId }, orderBy: NEWEST, take: limit });
      return rows.map(toEvent);
    },

    /** The newest events of a key (the key's page, `keyward doctor --key`). */
    async ofKey(keyId: string, limit = 20): Promise<ConnectionEvent[]> {
      const rows = await db.connectionEvent.findMany({ where: { keyId }, orderBy: NEWEST, take: limit });
      return rows.map(toEvent);
    },

    /**
     * What a user may see of a client: their own events, and the client's events from before any user
     * was known only when `withClientEvents` (they hold a key from the client). Never another user's.
     */
    async forUser(userId: string, clientId: string, withClientEvents: boolean, limit = 20): Promise<ConnectionEvent[]> {
      const rows = await db.connectionEvent.findMany({
        where: { clientId, OR: withClientEvents ? [{ userId }, { userId: null }] : [{ userId }] },
        orderBy: NEWEST,
        take: limit,
      });
      return rows.map(toEvent);
    },

    /** The clients this user has events from (failed connections leave no key: they still get a doctor page). */
    async clientsOf(userId: string): Promise<string[]> {
      const rows = await db.connectionEvent.findMany({
        where: { userId, clientId: { not: null } },
        distinct: ["clientId"],
        select: { clientId: true },
        take: 50,
      });
      return rows.flatMap((r) => (r.clientId === null ? [] : [r.clientId]));
    },

    /** Whether the key's token was issued for a request that named no resource (undefined: not known). */
    async resourceSent(keyId: string): Promise<boolean | undefined> {
      const row = await db.connectionEvent.findFirst({ where: { keyId, step: "token", outcome: "ok" }, orderBy: { id: "desc" } });
      const sent = row ? parseDetail(row.detail).resourceSent : undefined;
      return typeof sent === "boolean" ? sent : undefined;
    },

    /**
     * Whether the authorization a code exchange of this client (for this user) follows named a resource:
     * false when a "no resource parameter" authorization (recorded by the provider's default-resource
     * hook, before the user may be known) came after the client's previous code exchange.
     */
    async lastAuthorizationNamedResource(clientId: string, userId: string | null): Promise<boolean> {
      const users = userId ? [{ userId }, { userId: null }] : [{ userId: null }];
      const [token, unnamed] = await Promise.all([
        db.connectionEvent.findFirst({
          where: { clientId, userId, step: "token", outcome: "ok" },
          orderBy: { id: "desc" },
          select: { id: true },
        }),
        db.connectionEvent.findFirst({
          where: { clientId, OR: users, step: "authorization", detail: { contains: '"resourceSent":false' } },
          orderBy: { id: "desc" },
          select: { id: true },
        }),
      ]);
      return !(unnamed && (!token || unnamed.id > token.id));
    },

    /** Whether the key's first MCP request is already recorded. */
    async firstUseRecorded(keyId: string): Promise<boolean> {
      return (await db.connectionEvent.count({ where: { keyId, step: "mcp_request", outcome: "ok" } })) > 0;
    },

    /** Housekeeping: events older than `before`. */
    async prune(before: Date): Promise<number> {
      return (await db.connectionEvent.deleteMany({ where: { createdAt: { lt: before } } })).count;
    },
  };
}

export type ConnectionEvents = ReturnType<typeof createConnectionEvents>;
