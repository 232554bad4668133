// PostgreSQL: changes to keys pushed to every instance, so a cached verification needs no round trip.
//
// Without it every verification reads its key row from PostgreSQL: one round trip per request, the
// price of "revoked on one instance, refused by every instance on the very next request". The feed
// keeps that promise without asking:
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
//    and every request reads its key row from the database (nothing from memory).
// 4. How long a writer waits is read from the database, never from the writer's own settings (instances
//    may run with different VERIFY_CACHE_LEASE_SECONDS, and the CLI has none of theirs): it waits until
//    each lease that has not acknowledged has acknowledged or has passed BY THE DATABASE'S CLOCK
//    (leaseUntil <= now()): each is waited for until the end it had when the writer first saw it, so
//    the wait is bounded by the longest of those leases. If a lease is still live and silent then
//    (renewed without acknowledging: a bug, a stall between a renewal and its acknowledgement, a
//    hand-made row), the write fails with UnconfirmedChangeError (committed, but not yet refused
//    everywhere): the caller must not be told "done" (HTTP: 503, CLI: exit 1).
//
// Why a passed lease is enough: an instance stops trusting its cache BEFORE its lease row ends.
// - Its trust is set only by the echo of one of its lease statements, to `sent + lease - margin`,
//   where `sent` is performance.now() taken before the statement is queued on the connection (lease()).
// - That statement's leaseUntil is now() + lease, and now() (its transaction's start) is later than
//   `sent`: PostgreSQL reads the statement after the client queued it. So the trust ends at least
//   `margin` (a tenth of the lease, at least 100 ms: far more than two clocks drift in one lease)
//   before that leaseUntil, both counted in elapsed time.
// - A later statement of the same instance only moves leaseUntil later (renewals run one at a time on
//   one connection, each with a later now()); rows are removed only by the instance itself when it
//   stops trusting (close(), giveUp()) or an hour after they lapsed (connect()).
// - A paused process (SIGSTOP, a VM freeze) is no exception: the monotonic clock runs on meanwhile, so on
//   waking it finds its trust already past and reads from the database.
// So once the database's now() has passed an instance's leaseUntil, any request that instance
// examines from then on finds its cache untrusted, whatever it processes first when it wakes.
//
// Why "at least that high" is enough: xids are handed out in increasing order, so an acknowledged
// xid ≥ ours was allocated after our commit, and the instance emptied its cache after processing it.
// A row read before that and returned after is not kept (src/keys/lookup/cache.ts compares tokens).
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import type pg from "pg";
import { postgresDriver } from "../../db/client.js";
import { UnconfirmedChangeError } from "./announce.js";

export const KEY_CHANGES_CHANNEL = "keyward_key_changes";

// Takes or renews the lease (acknowledging $3, or everything so far on a new lease) and echoes $4 on
// the channel: the instance trusts its cache only once its own echo has come back, which proves that
// notifications reach this connection (they would not through a transaction-mode pooler).
const LEASE = `WITH lease AS (
    INSERT INTO "KeyCacheInstance" (id, "leaseUntil", acked)
    VALUES ($1, now() + $2::int * interval '1 millisecond', COALESCE($3::bigint, pg_current_xact_id()::text::bigint))
    ON CONFLICT (id) DO UPDATE SET "leaseUntil" = EXCLUDED."leaseUntil", acked = GREATEST("KeyCacheInstance".acked, EXCLUDED.acked)
    RETURNING acked
  )
  SELECT acked::text AS acked, pg_notify('${KEY_CHANGES_CHANNEL}', $4)::text AS echoed FROM lease`;

// The live leases that have not acknowledged xid $1: their ids, and how long each still runs by the
// database's clock (milliseconds).
const UNCONFIRMED_OF = (xid: string) => `SELECT array_agg(i.id ORDER BY i.id) AS ids,
    array_agg((extract(epoch FROM i."leaseUntil" - now()) * 1000)::float8 ORDER BY i.id) AS "leftMs"
  FROM "KeyCacheInstance" i WHERE i."leaseUntil" > now() AND i.acked < ${xid}`;

const ANNOUNCE = `WITH ping AS (
    SELECT pg_current_xact_id()::text::bigint AS xid, pg_notify('${KEY_CHANGES_CHANNEL}', 'p:' || pg_current_xact_id()::text) AS sent
  )
  SELECT ping.xid::text AS xid, waiting.* FROM ping, LATERAL (${UNCONFIRMED_OF("ping.xid")}) waiting`;

const UNCONFIRMED = UNCONFIRMED_OF("$1::bigint");

export interface ChangeFeedOptions {
  /** How long an instance may answer from memory without renewing (VERIFY_CACHE_LEASE_SECONDS). */
  leaseMs: number;
  onError?: (err: unknown) => void;
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
    trustedUntil = 0; // before the lease row goes: writers stop waiting for it
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
    return c.query<{ acked: string }>(LEASE, [instanceId, leaseMs, acked?.toString() ?? null, `r:${n} ${instanceId}`]).then((result) => {
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
  /**
   * After a commit: resolves once every instance holding a lease has emptied its cache since, or let its
   * lease pass by the database's clock; rejects with UnconfirmedChangeError when one could not be confirmed.
   */
  announce(): Promise<void>;
}

type Query = (text: string, values?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;

/**
 * As long as any lease an instance can hold (VERIFY_CACHE_LEASE_SECONDS is at most 300): a row claiming more is waited for this long, no
 * longer.
 */
const LONGEST_WAIT_MS = 300_000;
/** Past the database's leaseUntil by the writer's clock before the last look, so that look sees it lapsed. */
const SLACK_MS = 25;

/**
 * Waits for each lease that has not acknowledged, until it has or until the end it had when first
 * seen (so the wait is bounded by the longest of those leases, whatever the writer's own setting);
 * with growing pauses between looks (1 ms … 20 ms, 100 ms after the first second).
 */
export function announcer(query: Query): Announcer {
  return {
    async announce() {
      const first = (await query(ANNOUNCE)).rows[0]!;
      const xid = String(first.xid);
      const started = performance.now();
      const until = new Map<string, number>(); // lease id → when it ends, as first seen, by the writer's clock
      let waiting = unconfirmedOf(first);
      let pause = 1;
      for (;;) {
        const now = performance.now();
        for (const [id, leftMs] of waiting) if (!until.has(id)) until.set(id, now + Math.min(leftMs, LONGEST_WAIT_MS) + SLACK_MS);
        if (waiting.size === 0) return;
        // Past every remaining lease's first-seen end, looked at afterwards: still live means renewed without acknowledging.
        const deadline = Math.max(...[...waiting.keys()].map((id) => until.get(id)!));
        if (now >= deadline) throw new UnconfirmedChangeError([...waiting.keys()], Math.max(...waiting.values()));
        await new Promise((resolve) => setTimeout(resolve, Math.min(pause, deadline - now)));
        pause = Math.min(pause * 2, now - started < 1000 ? 20 : 100);
        waiting = unconfirmedOf((await query(UNCONFIRMED, [xid])).rows[0]!);
      }
    },
  };
}

/** Lease id → milliseconds it still runs by the database's clock. */
function unconfirmedOf(row: Record<string, unknown>): Map<string, number> {
  const ids = (row.ids as string[] | null) ?? [];
  const leftMs = (row.leftMs as number[] | null) ?? [];
  return new Map(ids.map((id, i) => [id, Number(leftMs[i])]));
}
