// PostgreSQL: changes to keys pushed to every instance, so a cached verification needs no round trip.
//
// Without it every verification asks PostgreSQL "has anything been committed since?" (the snapshot
// check in key-lookup.ts): one round trip per request, the price of "revoked on one instance, refused
// by every instance on the very next request". The feed keeps that promise without asking:
//
// 1. listen(): each serving instance LISTENs on `keyward_key_changes` on a connection of its own, then
//    takes a lease on that same connection: a "KeyCacheInstance" row (leaseUntil = now() + lease),
//    renewed every lease/5. Any notification on the channel empties its cache (the generation moves).
//    Triggers (migration 0007) notify on every change to what verification reads, even from psql.
// 2. announce(): a writer whose change must hold on the next request (a revocation, a new role, a
//    removed member; src/keys/lookup/announce.ts finds them) sends `p:<xid>` on the channel, where xid is
//    allocated after its commit, and waits until every instance holding a live lease has acknowledged
//    an xid at least that high. Instances acknowledge in their lease row, after emptying their cache.
// 3. An instance answers from memory only while it holds its lease by its own clock (counted from
//    when the renewal was sent, minus a margin), its connection is up, and the renewal's own echo
//    on the channel came back (so notifications do reach it). Otherwise current() says so
//    and every request falls back to the snapshot check. So a writer waits at most one lease for a
//    stuck or dead instance, and that instance stops trusting its cache before the writer gives up.
//
// Why "at least that high" is enough: xids are handed out in increasing order, so an acknowledged
// xid ≥ ours was allocated after our commit, and the instance emptied its cache after processing it.
// A row read before that and returned after is not kept (cachedKeyLookup compares tokens).
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import type pg from "pg";
import { postgresDriver } from "../../db/client.js";

export const KEY_CHANGES_CHANNEL = "keyward_key_changes";

// Takes or renews the lease (acknowledging $3, or everything so far on a new lease) and echoes $4 on
// channel $5: the instance trusts its cache only once its own echo has come back, which proves that
// notifications reach this connection (they would not through a transaction-mode pooler).
const LEASE = `WITH lease AS (
    INSERT INTO "KeyCacheInstance" (id, "leaseUntil", acked)
    VALUES ($1, now() + $2::int * interval '1 millisecond', COALESCE($3::bigint, pg_current_xact_id()::text::bigint))
    ON CONFLICT (id) DO UPDATE SET "leaseUntil" = EXCLUDED."leaseUntil", acked = GREATEST("KeyCacheInstance".acked, EXCLUDED.acked)
    RETURNING acked
  )
  SELECT acked::text AS acked, pg_notify($5, $4)::text AS echoed FROM lease`;

const ANNOUNCE = `WITH ping AS (
    SELECT pg_current_xact_id()::text::bigint AS xid, pg_notify('${KEY_CHANGES_CHANNEL}', 'p:' || pg_current_xact_id()::text) AS sent
  )
  SELECT ping.xid::text AS xid, (SELECT count(*)::int FROM "KeyCacheInstance" i WHERE i."leaseUntil" > now() AND i.acked < ping.xid) AS waiting
  FROM ping`;

const WAITING = `SELECT count(*)::int AS waiting FROM "KeyCacheInstance" WHERE "leaseUntil" > now() AND acked < $1::bigint`;

export interface ChangeFeedOptions {
  /** How long an instance may answer from memory without renewing; also a writer's longest wait. */
  leaseMs: number;
  onError?: (err: unknown) => void;
  /** Tests only: where lease renewals echo, to play a connection that notifications do not reach. */
  echoChannel?: string;
}

export interface ChangeFeed {
  /** The cache generation while the feed vouches for it; undefined when it cannot (connection down, lease lapsed). */
  current(): number | undefined;
  /** Resolves once the lease is held (for tests and the benchmark; serving never waits for it). */
  ready(): Promise<void>;
  readonly instanceId: string;
  close(): Promise<void>;
}

export function listen(url: string, options: ChangeFeedOptions): ChangeFeed {
  const { leaseMs } = options;
  const margin = Math.max(100, leaseMs / 10);
  const instanceId = `${hostname()}:${process.pid}:${randomBytes(6).toString("hex")}`;
  let client: pg.Client | undefined;
  let generation = 0;
  let processed = 0n; // highest announcement emptied for
  let trustedUntil = 0; // performance.now() deadline
  let renewing = false;
  let renewAgain = false;
  let closed = false;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let failures = 0; // consecutive: reconnect after 1, 2, 4 … 16 s
  let readyWaiters: (() => void)[] = [];
  let seq = 0;
  const echoes = new Map<number, { sent: number; accepted: boolean }>(); // lease statements waiting for their echo

  const lost = (c: pg.Client, err?: unknown) => {
    if (client !== c) return;
    client = undefined;
    trustedUntil = 0;
    generation++;
    echoes.clear();
    c.end().catch(() => {});
    if (err && failures === 0) options.onError?.(err); // once per outage
    if (!closed) reconnectTimer ??= setTimeout(connect, 1000 * 2 ** Math.min(4, failures++)).unref();
  };

  /** Notifications do not come back on this connection: give the feed up for good (and the lease with it). */
  const giveUp = (c: pg.Client) => {
    closed = true;
    options.onError?.(
      new Error(
        "key-change feed: PostgreSQL accepts the lease but its notifications do not reach this connection (a transaction-mode pooler such as PgBouncer?); verification checks the database on every request instead. Connect directly or through a session-mode pooler, or set VERIFY_CACHE_FEED=false.",
      ),
    );
    void c
      .query(`DELETE FROM "KeyCacheInstance" WHERE id = $1`, [instanceId])
      .catch(() => {})
      .finally(() => lost(c));
  };

  const lease = (c: pg.Client, acked: bigint | null) => {
    const n = ++seq;
    const echo = { sent: performance.now(), accepted: false };
    echoes.set(n, echo);
    return c.query<{ acked: string }>(LEASE, [instanceId, leaseMs, acked?.toString() ?? null, `r:${n} ${instanceId}`, options.echoChannel ?? KEY_CHANGES_CHANNEL]).then((result) => {
      echo.accepted = true;
      return result;
    });
  };

  const renew = () => {
    const c = client;
    if (!c) return;
    const now = performance.now();
    for (const echo of echoes.values()) if (echo.accepted && now - echo.sent > leaseMs) return giveUp(c);
    if (renewing) {
      renewAgain = true;
      return;
    }
    renewing = true;
    lease(c, processed)
      .catch((err: unknown) => lost(c, err))
      .finally(() => {
        renewing = false;
        if (renewAgain) {
          renewAgain = false;
          renew();
        }
      });
  };

  const echoed = (payload: string) => {
    const [n, id] = payload.slice(2).split(" ");
    if (id !== instanceId) return; // another instance's renewal
    const echo = echoes.get(Number(n));
    if (!echo) return;
    // Trusted for one lease from when the statement was sent: never past the lease PostgreSQL holds.
    trustedUntil = Math.max(trustedUntil, echo.sent + leaseMs - margin);
    for (const k of echoes.keys()) if (k <= Number(n)) echoes.delete(k);
    failures = 0;
    for (const wake of readyWaiters) wake();
    readyWaiters = [];
  };

  async function connect(): Promise<void> {
    reconnectTimer = undefined;
    if (closed) return;
    const c = new (postgresDriver().Client)({ connectionString: url, application_name: "keyward key-change feed" });
    c.on("error", (err) => lost(c, err));
    c.on("end", () => lost(c, new Error("key-change feed connection ended")));
    c.on("notification", (message) => {
      if (client !== c) return;
      const payload = message.payload ?? "";
      if (payload.startsWith("r:")) return echoed(payload); // a lease renewal: nothing changed
      generation++; // whatever changed, the cache starts over
      if (payload.startsWith("p:")) {
        const xid = BigInt(payload.slice(2));
        if (xid > processed) {
          processed = xid;
          renew(); // acknowledges, and renews the lease on the way
        }
      }
    });
    client = c;
    try {
      await c.connect();
      await c.query(`LISTEN ${KEY_CHANGES_CHANNEL}`);
      await c.query(`DELETE FROM "KeyCacheInstance" WHERE "leaseUntil" < now() - interval '1 hour'`);
      // A new lease acknowledges everything announced before it: lost() emptied the cache (the
      // generation moved), and the cache is trusted again only once this lease's echo is back.
      const result = await lease(c, null);
      if (client !== c) return;
      const acked = BigInt(result.rows[0]!.acked);
      if (acked > processed) processed = acked;
    } catch (err) {
      lost(c, err);
    }
  }

  const current = () => (client && performance.now() < trustedUntil ? generation : undefined);

  const timer = setInterval(renew, Math.max(50, leaseMs / 5));
  timer.unref();
  void connect();

  return {
    instanceId,
    current,
    ready: () => (current() !== undefined ? Promise.resolve() : new Promise((resolve) => readyWaiters.push(resolve))),
    async close() {
      closed = true;
      clearInterval(timer);
      clearTimeout(reconnectTimer);
      const c = client;
      client = undefined;
      trustedUntil = 0;
      if (!c) return;
      await c.query(`DELETE FROM "KeyCacheInstance" WHERE id = $1`, [instanceId]).catch(() => {});
      await c.end().catch(() => {});
    },
  };
}

export interface Announcer {
  /** After a commit: resolves once every instance holding a lease has emptied its cache since. */
  announce(): Promise<void>;
}

/** Waits with growing pauses (1 ms … 20 ms); gives up after maxWaitMs, reporting who did not answer. */
export function announcer(query: (text: string, values?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>, options: { maxWaitMs: number; onError?: (err: unknown) => void }): Announcer {
  return {
    async announce() {
      const first = (await query(ANNOUNCE)).rows[0]!;
      let waiting = Number(first.waiting);
      const started = performance.now();
      let pause = 1;
      while (waiting > 0) {
        if (performance.now() - started > options.maxWaitMs) {
          options.onError?.(new Error(`${waiting} instance(s) renewed their lease but did not acknowledge a key change within ${options.maxWaitMs} ms`));
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, pause));
        pause = Math.min(20, pause * 2);
        waiting = Number((await query(WAITING, [first.xid])).rows[0]!.waiting);
      }
    },
  };
}
