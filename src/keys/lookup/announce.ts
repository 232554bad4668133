// Writes that change what key verification reads (a revoked key, a new role, a removed member, a
// deleted user or app, a changed or removed resource) must reach every instance's verification cache before anyone is told they
// are done. On PostgreSQL that is an announcement every instance acknowledges (src/keys/lookup/pg-change-feed.ts);
// on SQLite every instance already sees every commit through the file, so nothing is needed.
//
// One place finds those writes: a Prisma extension on the models verification reads. Inside a
// request (or anything run through announceAfter) it only marks the scope, and the announcement is
// made once the handler is done, so after every transaction of the request has committed
// (src/http/key-writes.ts). Outside any scope (a timer, a CLI command) the write is announced as soon
// as it returns, which is after its commit as long as it is not inside an interactive transaction.
import { AsyncLocalStorage } from "node:async_hooks";
import type { Db } from "../../db/client.js";

/** Model → the operations that can change a verification's answer. New keys are not among them: an unknown hash is never cached. */
const CHANGES_VERIFICATION: Record<string, ReadonlySet<string>> = {
  apiKey: new Set(["update", "updateMany", "upsert", "delete", "deleteMany"]),
  membership: new Set(["create", "createMany", "update", "updateMany", "upsert", "delete", "deleteMany"]),
  app: new Set(["update", "updateMany", "upsert", "delete", "deleteMany"]),
  user: new Set(["update", "updateMany", "upsert", "delete", "deleteMany"]),
  organization: new Set(["update", "updateMany", "upsert", "delete", "deleteMany"]),
  // The gateway holds resources behind the same change token (src/resources/lookup.ts).
  resource: new Set(["update", "updateMany", "upsert", "delete", "deleteMany"]),
  // Operators (src/admin/): a blocked client's keys fail at once, on every instance.
  blockedClient: new Set(["create", "createMany", "update", "updateMany", "upsert", "delete", "deleteMany"]),
};

/**
 * A change was committed, but some instance holding a verification-cache lease neither acknowledged it
 * nor let its lease pass while the writer waited (src/keys/lookup/pg-change-feed.ts): that instance may
 * still give the old answer (accept a revoked key) until it acknowledges or its lease ends. The writer
 * must not report success: the HTTP layer answers 503, the CLI exits 1 with this message.
 */
export class UnconfirmedChangeError extends Error {
  /** Seconds until the longest of those leases ends, by the database's clock (if not renewed again). */
  readonly seconds: number;
  constructor(
    /** The instances' lease ids (host:pid:random). */
    readonly instances: readonly string[],
    leftMs: number,
  ) {
    const seconds = Math.max(1, Math.ceil(leftMs / 1000));
    super(
      `the change is committed (a revoked key IS revoked), but ${instances.length} instance(s) did not confirm they dropped their cached verifications: ${instances.join(", ")}; they may accept the old answer for up to ${seconds} s more (until their lease ends), longer if they keep renewing without confirming: check them and restart any that is stuck`,
    );
    this.name = "UnconfirmedChangeError";
    this.seconds = seconds;
  }
}

interface Scope {
  changed: boolean;
}

const scopes = new AsyncLocalStorage<Scope>();
const ANNOUNCE = Symbol("keyward.announce");

export function changesVerification(model: string | undefined, operation: string): boolean {
  return model !== undefined && (CHANGES_VERIFICATION[model[0]!.toLowerCase() + model.slice(1)]?.has(operation) ?? false);
}

/** The Prisma client, announcing its writes that change verification. Without `announce` (SQLite) the client is returned as is. */
export function announcingKeyWrites(db: Db, announce: (() => Promise<void>) | undefined): Db {
  if (!announce) return db;
  const extended = db.$extends({
    query: {
      $allModels: {
        async $allOperations({ model, operation, args, query }) {
          const result = await query(args);
          if (changesVerification(model, operation)) {
            const scope = scopes.getStore();
            if (scope) scope.changed = true;
            else await announce();
          }
          return result;
        },
      },
    },
  });
  // Keep what createDb attached to the client (its provider, read by providerOfDb).
  for (const symbol of Object.getOwnPropertySymbols(db))
    Object.defineProperty(extended, symbol, { value: (db as unknown as Record<symbol, unknown>)[symbol] });
  Object.defineProperty(extended, ANNOUNCE, { value: announce });
  return extended as unknown as Db;
}

/**
 * The extension does not see the statements of an interactive transaction (`db.$transaction(async
 * (tx) => …)`): a caller whose transaction changed what verification reads calls this once it has
 * committed, and the change is announced as the extension would have (at the end of the request,
 * or at once outside one). Nothing to do on a client that does not announce (SQLite).
 */
export async function announceCommitted(db: Db): Promise<void> {
  const announce = (db as unknown as { [ANNOUNCE]?: () => Promise<void> })[ANNOUNCE];
  if (!announce) return;
  const scope = scopes.getStore();
  if (scope) scope.changed = true;
  else await announce();
}

/**
 * Runs `fn` with its writes that change verification collected, then announces them once, after
 * `fn` has finished (so after its transactions committed), whether it succeeded or not.
 */
export async function announceAfter<T>(announce: () => Promise<void>, fn: () => Promise<T>): Promise<T> {
  const scope: Scope = { changed: false };
  try {
    return await scopes.run(scope, fn);
  } finally {
    if (scope.changed) await announce();
  }
}
