// Key events: the changes that can turn a verification's answer from yes to no (a key revoked,
// deleted or changed, its owner's role or membership, its app), one row each in "KeyEvent" with an
// increasing id. Database triggers write them (migration 0017), so every change is recorded in its own
// transaction whoever makes it, and every instance reads the same history: a separate resource
// server's event stream (src/resources/events-route.ts) follows it by id and resumes after a reconnect.
// Housekeeping prunes old rows; a reader whose position was pruned is told to start again ("reset").
// A row carries the key's SHA-256 digest (hex, as src/keys/hash.ts computes it), never the key.
import type { Db } from "../../db/client.js";
import { boundResources } from "../view.js";

export type KeyEventKind = "revoked" | "changed" | "removed";

export interface KeyEvent {
  id: number;
  /** SHA-256 of the key, lowercase hex (hashKey). */
  keyHash: string;
  kind: KeyEventKind;
}

/** What a reader after `after` is told: the events for its resource, and where it now stands. */
export type KeyEventPage = { reset: true; position: number } | { reset: false; events: KeyEvent[]; position: number };

const PAGE = 500;

interface Row {
  id: bigint | number;
  keyHash: string;
  audience: string | null;
  kind: string;
}

const KINDS: readonly string[] = ["revoked", "changed", "removed"];

export function createKeyEvents(db: Db) {
  const bounds = async (): Promise<{ first: number; last: number }> => {
    const [row] = await db.$queryRaw<{ first: bigint | number | null; last: bigint | number | null }[]>`
      SELECT min("id") AS "first", max("id") AS "last" FROM "KeyEvent"`;
    return { first: Number(row?.first ?? 0), last: Number(row?.last ?? 0) };
  };

  return {
    /** The newest event's id (0 when there is none): where a reader without history starts. */
    async position(): Promise<number> {
      return (await bounds()).last;
    },

    /**
     * The events after `after` that concern the resource at `audience` (keys bound to it, alone or with
     * others, and keys bound to no resource), at most one page. `reset` when events after `after` may
     * have been pruned, or `after` is ahead of the history (another database): the reader must forget
     * everything it holds. (A gap in ids, from a rolled-back transaction, resets too: safe, only slower.)
     */
    async after(after: number, audience: string): Promise<KeyEventPage> {
      const { first, last } = await bounds();
      if (after > last || (first > 0 && after < first - 1)) return { reset: true, position: last };
      const rows = await db.$queryRaw<Row[]>`
        SELECT "id", "keyHash", "audience", "kind" FROM "KeyEvent" WHERE "id" > ${after} ORDER BY "id" LIMIT ${PAGE}`;
      const events: KeyEvent[] = [];
      let position = after;
      for (const row of rows) {
        position = Number(row.id);
        const bound = boundResources(row.audience);
        if (bound && !bound.includes(audience)) continue;
        events.push({ id: position, keyHash: row.keyHash, kind: (KINDS.includes(row.kind) ? row.kind : "changed") as KeyEventKind });
      }
      return { reset: false, events, position };
    },

    /** Removes events older than `before`, always keeping the newest (readers compare their position with it). */
    async prune(before: Date): Promise<number> {
      return db.$executeRaw`
        DELETE FROM "KeyEvent" WHERE "at" < ${before.getTime()} AND "id" < (SELECT max("id") FROM "KeyEvent")`;
    },
  };
}

export type KeyEvents = ReturnType<typeof createKeyEvents>;

type Listener = () => Promise<void>;
const listeners = new Set<Listener>();

/** An event stream of this instance asks to be woken when this instance commits key events (it also polls, for the others'). */
export function onKeyEvents(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * Called after a commit that wrote key events (the revoke path): resolves once every stream of this
 * instance has sent what concerns it (or MAX_WAIT_MS passed), so a resource server holding a stream to
 * this instance has the revocation before the revoker is told it is done. Never throws (a stream's failure is its own).
 */
export async function keyEventsCommitted(): Promise<void> {
  if (listeners.size === 0) return;
  // A stuck connection must never hold a revocation: after MAX_WAIT_MS the streams catch up on their own (they poll).
  let timer: NodeJS.Timeout | undefined;
  const cap = new Promise<void>((resolve) => (timer = setTimeout(resolve, MAX_WAIT_MS)));
  await Promise.race([Promise.allSettled([...listeners].map((l) => l())), cap]);
  clearTimeout(timer);
}

const MAX_WAIT_MS = 2000;
