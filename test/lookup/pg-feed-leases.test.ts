// Next-request revocation across instances whose leases differ (issue 23, "Mixed lease settings"):
// a writer waits for every lease that has not acknowledged until it has, or until it has passed by
// the DATABASE's clock, however short the writer's own VERIFY_CACHE_LEASE_SECONDS (the CLI may have
// none of the servers' settings); when it cannot confirm, the write says so instead of succeeding.
// Real processes: A with a 1 s lease, B with an 8 s lease, and the CLI with 0.5 s.
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import pg from "pg";
import { createTestDatabase, type TestDatabase } from "../support/db.js";
import { freePort, startInstance, type Instance } from "../support/processes.js";
import { keyward, startKeyward } from "../support/cli-run.js";
import { createDb, type Db } from "../../src/db/client.js";
import { createKeys } from "../../src/keys/index.js";
import { makeUser } from "../support/test-db.js";
import { BY_OPERATOR } from "../support/acting.js";

const onPostgres = inject("testBackend") === "postgresql";

const mcp = (url: string, key: string) =>
  fetch(`${url}/mcp`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, accept: "application/json, text/event-stream", "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {} } }),
  }).then(async (res) => (await res.arrayBuffer(), res.status));

describe.skipIf(!onPostgres)("revocation across instances with different lease settings (PostgreSQL)", () => {
  let database: TestDatabase;
  let db: Db;
  let a: Instance; // VERIFY_CACHE_LEASE_SECONDS=1
  let b: Instance; // VERIFY_CACHE_LEASE_SECONDS=8
  let owner: { id: string; email: string };
  let ownerKey: string;
  let psql: pg.Client;
  const keys = () => createKeys(db, { prefix: "kw_user_", scopes: ["mcp:read", "mcp:write"], lastUsedFlushMs: 3600_000 });

  beforeAll(async () => {
    database = await createTestDatabase();
    db = await createDb(database.url);
    psql = new pg.Client({ connectionString: database.url });
    await psql.connect();
    const portA = await freePort();
    const env = { DATABASE_URL: database.url, ISSUER: `http://127.0.0.1:${portA}`, LAST_USED_FLUSH_SECONDS: "3600" };
    [a, b] = await Promise.all([
      startInstance({ ...env, PORT: String(portA), VERIFY_CACHE_LEASE_SECONDS: "1" }),
      startInstance({ ...env, VERIFY_CACHE_LEASE_SECONDS: "8" }),
    ]);
    owner = await makeUser(db);
    ownerKey = (await keys().mint({ userId: owner.id, label: "owner", source: "portal" }, BY_OPERATOR)).raw;
  }, 90_000);

  afterAll(async () => {
    for (const i of [a, b]) if (i && i.child.exitCode === null) i.child.kill("SIGKILL");
    await psql?.end();
    await db?.$disconnect();
    await database?.drop();
  });

  /** A fresh key, answered from B's cache (and A's). */
  async function cachedKey(label: string) {
    const minted = await keys().mint({ userId: owner.id, label, source: "portal" }, BY_OPERATOR);
    for (const i of [a, b, a, b]) expect(await mcp(i.url, minted.raw)).toBe(200);
    return { id: minted.key.id, key: minted.raw };
  }
  const revokeOn = (i: Instance, id: string) =>
    fetch(`${i.url}/api/api-keys/${id}`, { method: "DELETE", headers: { authorization: `Bearer ${ownerKey}` } });

  it("revoked on either instance, a key is refused by the other on the very next request: 0 stale answers in 40 rounds", async () => {
    let stale = 0;
    for (let round = 0; round < 40; round++) {
      const { id, key } = await cachedKey(`round ${round}`);
      const [writer, other] = round % 2 === 0 ? [a, b] : [b, a];
      expect((await revokeOn(writer, id)).status).toBe(200);
      if ((await mcp(other.url, key)) !== 401) stale++;
      if ((await mcp(writer.url, key)) !== 401) stale++;
    }
    expect(stale).toBe(0);
  }, 60_000);

  it("B paused: a revocation on A (1 s lease) waits until B's 8 s lease has passed by the database's clock; B refuses the key when it wakes", async () => {
    const { id, key } = await cachedKey("paused");
    b.child.kill("SIGSTOP");
    let elapsed: number;
    try {
      const started = performance.now();
      const res = await revokeOn(a, id);
      elapsed = performance.now() - started;
      expect(res.status).toBe(200);
      // B's lease row has lapsed: the writer did not stop at twice its own lease (2 s).
      const live = await psql.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM "KeyCacheInstance" WHERE id LIKE $1 AND "leaseUntil" > now()`,
        [`%:${b.child.pid}:%`],
      );
      expect(live.rows[0]!.n).toBe(0);
    } finally {
      b.child.kill("SIGCONT");
    }
    expect(await mcp(b.url, key)).toBe(401);
    expect(await mcp(a.url, key)).toBe(401);
    expect(elapsed).toBeGreaterThan(2000); // B renewed at most 1.6 s before the pause: at least 6.4 s of its lease were left
  }, 30_000);

  it("B paused: the CLI, run with a 0.5 s lease of its own, still waits for B's lease; B refuses the key when it wakes", async () => {
    const { id, key } = await cachedKey("paused, CLI");
    // Hold the key's row so the CLI, once started (seconds on a busy machine), waits at its UPDATE;
    // B is paused just before it is let go, with most of B's lease still to run.
    const blocker = new pg.Client({ connectionString: database.url });
    await blocker.connect();
    await blocker.query("BEGIN");
    await blocker.query(`SELECT 1 FROM "ApiKey" WHERE id = $1 FOR UPDATE`, [id]);
    const cli = startKeyward(["api-keys", "revoke", id, "--user", owner.email], {
      env: { DATABASE_URL: database.url, VERIFY_CACHE_LEASE_SECONDS: "0.5" },
    });
    try {
      await vi.waitFor(
        async () => {
          const waiting = await psql.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          );
          expect(waiting.rows[0]!.n).toBeGreaterThan(0);
        },
        { timeout: 30_000, interval: 50 },
      );
      b.child.kill("SIGSTOP");
      await blocker.query("ROLLBACK");
      const run = await cli.done;
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/Revoked API key/);
      const live = await psql.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM "KeyCacheInstance" WHERE id LIKE $1 AND "leaseUntil" > now()`,
        [`%:${b.child.pid}:%`],
      );
      expect(live.rows[0]!.n).toBe(0); // the CLI did not stop at twice its own lease (1 s)
    } finally {
      b.child.kill("SIGCONT");
      await blocker.end();
    }
    expect(await mcp(b.url, key)).toBe(401);
  }, 60_000);

  // What a change made directly in SQL guarantees (README, SECURITY.md, docs/performance.md): the
  // triggers of migration 0007 notify every instance, which refuses the key once that notification
  // arrives, typically within milliseconds and at most one lease later; nobody waits for it, so the
  // very next request may still be answered from a cache. The CLI (and the JSON API, RFC 7009, the
  // pages) announce and wait, so they keep the next-request promise.
  it("a hand-written UPDATE from psql is refused by every instance within its lease (measured); the CLI revocation on the very next request", async () => {
    const { id, key } = await cachedKey("psql");
    const viaCli = await cachedKey("cli");
    await psql.query(`UPDATE "ApiKey" SET "revokedAt" = now() WHERE id = ANY($1)`, [[id, viaCli.id]]);
    const committed = performance.now();
    const refusedAfter = await Promise.all(
      [a, b].map(async (i) => {
        while ((await mcp(i.url, key)) !== 401) expect(performance.now() - committed).toBeLessThan(10_000);
        return performance.now() - committed;
      }),
    );
    expect(refusedAfter[0]).toBeLessThan(1000); // A's lease
    expect(refusedAfter[1]).toBeLessThan(8000); // B's lease
    console.info(`psql UPDATE refused by A after ${refusedAfter[0]!.toFixed(0)} ms, by B after ${refusedAfter[1]!.toFixed(0)} ms`);

    // The supported way, also for a key already revoked in SQL: it answers once every instance confirmed.
    const run = await keyward(["api-keys", "revoke", viaCli.id, "--user", owner.email], { env: { DATABASE_URL: database.url } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/was already revoked/);
    expect(await mcp(b.url, viaCli.key)).toBe(401);
    expect(await mcp(a.url, viaCli.key)).toBe(401);
  }, 30_000);

  describe("an instance whose lease stays live but never acknowledges", () => {
    // A lease renewed without acknowledging: nothing Keyward does, so the row is played by the test.
    let renewing: NodeJS.Timeout;
    beforeAll(async () => {
      const renew = () =>
        psql.query(
          `INSERT INTO "KeyCacheInstance" (id, "leaseUntil", acked) VALUES ('stuck-host:1:test', now() + interval '1 second', 0) ON CONFLICT (id) DO UPDATE SET "leaseUntil" = EXCLUDED."leaseUntil"`,
        );
      await renew();
      renewing = setInterval(() => void renew().catch(() => {}), 200);
    });
    afterAll(async () => {
      clearInterval(renewing);
      await psql.query(`DELETE FROM "KeyCacheInstance" WHERE id = 'stuck-host:1:test'`);
    });

    it("HTTP: 503 change_unconfirmed saying the key IS revoked and for how long it may still be accepted; the operator log names the instance", async () => {
      const { id, key } = await cachedKey("unconfirmed, HTTP");
      const started = performance.now();
      const res = await revokeOn(a, id);
      expect(performance.now() - started).toBeLessThan(5000); // bounded by the longest live lease the database holds (1 s), not more
      expect(res.status).toBe(503);
      expect(res.headers.get("content-type")).toMatch(/application\/json/);
      expect(res.headers.get("retry-after")).toBe("1");
      const body = (await res.json()) as { error: string; error_description: string };
      expect(body.error).toBe("change_unconfirmed");
      expect(body.error_description).toMatch(/IS revoked.*1 server instance\(s\) have not confirmed.*up to 1 s/);
      expect(body.error_description).not.toMatch(/stuck-host/); // instance names are for the operator
      await vi.waitFor(() => expect(a.output.join("")).toMatch(/stuck-host:1:test/));
      // The revocation itself is committed, and every real instance refuses the key.
      expect(await mcp(a.url, key)).toBe(401);
      expect(await mcp(b.url, key)).toBe(401);
    });

    it("revoking it again (already revoked) does not claim success either while the instance has not confirmed", async () => {
      const { id } = await cachedKey("unconfirmed, again");
      expect((await revokeOn(a, id)).status).toBe(503);
      expect((await revokeOn(b, id)).status).toBe(503);
    });

    it("CLI: exit 1, one line naming the instance, saying the key IS revoked", async () => {
      const { id, key } = await cachedKey("unconfirmed, CLI");
      const run = await keyward(["api-keys", "revoke", id, "--user", owner.email], { env: { DATABASE_URL: database.url } });
      expect(run.code).toBe(1);
      expect(run.stdout).toBe("");
      expect(run.stderr.trim().split("\n").at(-1)).toMatch(
        /^keyward: .*IS revoked.*1 instance\(s\) did not confirm.*stuck-host:1:test.*up to 1 s/,
      );
      expect(await mcp(b.url, key)).toBe(401);
    });
  });
});
