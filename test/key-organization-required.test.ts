// Every key row has an organisation (migration 0012 made ApiKey.organizationId NOT NULL), so
// verification is a read: it never creates a personal organisation, a membership or anything else.
//   1. A database with a key written without an organisation (before 0012) migrates cleanly, and the
//      key then works in its owner's personal organisation, made by the migration when missing.
//   2. Verifying every kind of key, accepted or refused, leaves every table as it was.
import { readFileSync } from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import Database from "better-sqlite3";
import pg from "pg";
import request from "supertest";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db } from "../src/db/client.js";
import { migrate } from "../src/db/migrate.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/log.js";
import { startServer, type RunningServer } from "../src/server.js";
import { generateKey } from "../src/keys/format.js";
import { hashKey } from "../src/keys/hash.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { makeUser } from "./support/test-db.js";
import { BY_OPERATOR } from "./support/acting.js";

const MIGRATION = "0012_key_organization_required";
const PREFIX = "kw_user_"; // the default KEY_PREFIX

type Column = { name: string; type: string; notnull: number; dflt_value: string | null };
/** SQLite: the columns later migrations added to ApiKey (expiry, limits, …), which 0012's rebuild does not have. */
let laterColumns: Column[] = [];

/**
 * Puts them back as they were, after the roll-back's rebuild and again after 0012 is applied (it
 * rebuilds the table from its own definition): this is a roll-back of 0012 only, and the server
 * that reads the table expects them.
 */
function restoreLaterColumns(sqlite: Database.Database): void {
  const present = new Set((sqlite.prepare(`PRAGMA table_info("ApiKey")`).all() as Column[]).map((c) => c.name));
  for (const c of laterColumns.filter((c) => !present.has(c.name)))
    sqlite.exec(
      `ALTER TABLE "ApiKey" ADD COLUMN "${c.name}" ${c.type}${c.notnull ? " NOT NULL" : ""}${c.dflt_value !== null ? ` DEFAULT ${c.dflt_value}` : ""}`,
    );
}

/**
 * Puts a migrated database back where it was before 0012: organizationId nullable again and 0012
 * not recorded as applied. On SQLite the table is rebuilt from 0012's own definition, with the
 * column nullable (SQLite cannot drop NOT NULL in place).
 */
async function rollBack0012(database: TestDatabase): Promise<void> {
  if (database.backend === "sqlite") {
    const sql = readFileSync(path.join("prisma", "sqlite", "migrations", MIGRATION, "migration.sql"), "utf8");
    const rebuild = sql
      .slice(sql.indexOf("PRAGMA defer_foreign_keys=ON;"))
      .replace(`"organizationId" TEXT NOT NULL`, `"organizationId" TEXT`);
    expect(rebuild).toContain(`"organizationId" TEXT,`);
    const sqlite = new Database(database.file!);
    try {
      // A database from before 0012 has none of the later migrations' triggers on other tables that read
      // ApiKey (0017's key events): SQLite refuses to rename the rebuilt table while they name it.
      const later = sqlite
        .prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name != 'ApiKey' AND sql LIKE '%"ApiKey"%'`)
        .all() as { name: string }[];
      for (const { name } of later) sqlite.exec(`DROP TRIGGER "${name}"`);
      laterColumns = (sqlite.prepare(`PRAGMA table_info("ApiKey")`).all() as Column[]).filter(
        (c) => !new RegExp(`^\\s*"${c.name}" `, "m").test(rebuild),
      );
      sqlite.exec(rebuild);
      restoreLaterColumns(sqlite);
      sqlite.prepare(`DELETE FROM "_prisma_migrations" WHERE migration_name = ?`).run(MIGRATION);
    } finally {
      sqlite.close();
    }
    return;
  }
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    await client.query(`ALTER TABLE "ApiKey" ALTER COLUMN "organizationId" DROP NOT NULL`);
    await client.query(`DELETE FROM "_prisma_migrations" WHERE migration_name = $1`, [MIGRATION]);
  } finally {
    await client.end();
  }
}

/** A key row as an importer wrote them before 0012: no organisation. Returns the raw key. */
async function insertKeyWithoutOrganization(db: Db, userId: string, id: string): Promise<string> {
  const raw = generateKey(PREFIX);
  const hash = hashKey(raw);
  const last4 = raw.slice(-4);
  const now = new Date();
  await db.$executeRaw`INSERT INTO "ApiKey" ("id", "userId", "hash", "last4", "label", "source", "scopes", "createdAt", "organizationId")
    VALUES (${id}, ${userId}, ${hash}, ${last4}, 'imported', 'unknown', 'keys:read', ${now}, NULL)`;
  return raw;
}

describe("migration 0012: a key without an organisation", () => {
  let database: TestDatabase;
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
    await database?.drop();
  });

  it("migrates cleanly and then works in its owner's personal organisation, made by the migration if missing", async () => {
    database = await createTestDatabase();
    await rollBack0012(database);
    const before = await createDb(database.url);
    let withPersonal: { id: string };
    let withoutPersonal: { id: string };
    let personalOrgId: string;
    let rawWith: string;
    let rawWithout: string;
    try {
      // A user as sign-up makes them (with a personal organisation), and one whose personal
      // organisation is missing: the migration must make it rather than fail.
      withPersonal = await makeUser(before, "has-personal@example.com");
      personalOrgId = `org_p_${withPersonal.id}`;
      await before.organization.create({
        data: {
          id: personalOrgId,
          name: "Personal",
          personalOwnerId: withPersonal.id,
          memberships: { create: { userId: withPersonal.id, role: "owner" } },
        },
      });
      withoutPersonal = await makeUser(before, "no-personal@example.com");
      rawWith = await insertKeyWithoutOrganization(before, withPersonal.id, "key_legacy_with");
      rawWithout = await insertKeyWithoutOrganization(before, withoutPersonal.id, "key_legacy_without");
      const [orphans] = await before.$queryRaw<{ n: number | bigint }[]>`SELECT count(*) AS n FROM "ApiKey" WHERE "organizationId" IS NULL`;
      expect(Number(orphans?.n)).toBe(2);
    } finally {
      await before.$disconnect();
    }

    await migrate(database.url); // what every start does first
    if (database.backend === "sqlite") {
      const sqlite = new Database(database.file!);
      try {
        restoreLaterColumns(sqlite);
      } finally {
        sqlite.close();
      }
    }

    const config = loadConfig({ DATABASE_URL: database.url, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "silent" });
    server = await startServer(config, createLogger("silent", new Writable({ write: (_c, _e, cb) => cb() })), { migrate: false });
    const { db, keys } = server.services;

    const made = await db.organization.findUniqueOrThrow({
      where: { personalOwnerId: withoutPersonal.id },
      include: { memberships: true },
    });
    expect(made.name).toBe("Personal");
    expect(made.memberships.map((m) => [m.userId, m.role])).toEqual([[withoutPersonal.id, "owner"]]);
    expect(await db.organization.count({ where: { personalOwnerId: withPersonal.id } })).toBe(1); // the existing one is kept, not doubled

    expect(await db.apiKey.findUniqueOrThrow({ where: { id: "key_legacy_with" } })).toMatchObject({ organizationId: personalOrgId });
    expect(await db.apiKey.findUniqueOrThrow({ where: { id: "key_legacy_without" } })).toMatchObject({ organizationId: made.id });

    expect(await keys.verify(rawWith)).toMatchObject({
      ok: true,
      organizationId: personalOrgId,
      role: "owner",
      key: { id: "key_legacy_with" },
    });
    expect(await keys.verify(rawWithout)).toMatchObject({
      ok: true,
      organizationId: made.id,
      role: "owner",
      key: { id: "key_legacy_without" },
    });
    for (const [raw, id] of [
      [rawWith, "key_legacy_with"],
      [rawWithout, "key_legacy_without"],
    ] as const) {
      const res = await request(server.url).get("/api/api-keys").set("Authorization", `Bearer ${raw}`);
      expect(res.status).toBe(200);
      expect(res.body.data.map((k: { id: string }) => k.id)).toContain(id);
    }

    // The column is NOT NULL now: a row without an organisation cannot be written any more.
    await expect(insertKeyWithoutOrganization(db, withPersonal.id, "key_after_0012")).rejects.toThrow();
  }, 60_000);
});

describe("verification never writes", () => {
  let server: TestServer;
  beforeAll(async () => {
    // Last-used times are the one write a verification causes, batched and deferred by design
    // (src/keys/last-used-writes.ts): an hour here, so they stay out of this test's window.
    server = await startTestServer({ LEGACY_KEY_PATTERN: "legacy-[a-z]{40}", LAST_USED_FLUSH_SECONDS: "3600" });
  });
  afterAll(async () => {
    await server?.close();
  });

  /** Every row of every table verification could touch, as text. */
  async function everything(db: Db): Promise<string> {
    const tables = await Promise.all([
      db.user.findMany({ orderBy: { id: "asc" } }),
      db.organization.findMany({ orderBy: { id: "asc" } }),
      db.membership.findMany({ orderBy: [{ organizationId: "asc" }, { userId: "asc" }] }),
      db.app.findMany({ orderBy: { id: "asc" } }),
      db.apiKey.findMany({ orderBy: { id: "asc" } }),
      db.auditEvent.findMany({ orderBy: { id: "asc" } }),
      db.invitation.findMany({ orderBy: { id: "asc" } }),
      db.session.findMany({ orderBy: { id: "asc" } }),
      db.rateLimit.findMany({ orderBy: { key: "asc" } }),
      db.secret.findMany({ orderBy: { name: "asc" } }),
      db.oidcPayload.findMany({ orderBy: { id: "asc" } }),
      db.note.findMany({ orderBy: { id: "asc" } }),
    ]);
    return JSON.stringify(tables);
  }

  it("verifying every kind of key, accepted or refused, changes no row", async () => {
    const { db, keys, orgs } = server.services;
    const owner = await makeUser(db, "owner@example.com");
    const member = await makeUser(db, "member@example.com");
    const personal = await orgs.ensurePersonal(owner.id);
    await orgs.ensurePersonal(member.id);
    const team = await orgs.create(owner.id, "Team");
    await db.membership.create({ data: { organizationId: team.id, userId: member.id, role: "member" } });
    const app = await orgs.createApp(team.id, "Robot");

    const personalKey = await keys.mint({ userId: owner.id, label: "personal", source: "portal" }, BY_OPERATOR);
    const teamKey = await keys.mint({ userId: owner.id, organizationId: team.id, label: "team", source: "portal" }, BY_OPERATOR);
    const appKey = await keys.mint(
      { userId: owner.id, organizationId: team.id, appId: app.id, label: "app", source: "portal" },
      BY_OPERATOR,
    );
    const oauthKey = await keys.mint(
      { userId: owner.id, label: "oauth", source: "oauth", scopes: ["openid"], resources: [`${server.url}/mcp`] },
      BY_OPERATOR,
    );
    const revokedKey = await keys.mint({ userId: owner.id, label: "revoked", source: "portal" }, BY_OPERATOR);
    await keys.revoke({ kind: "own", userId: owner.id, id: revokedKey.key.id }, BY_OPERATOR);
    const boundKey = await keys.mint(
      { userId: owner.id, label: "dpop", source: "portal", dpopJkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" },
      BY_OPERATOR,
    );
    const removedKey = await keys.mint({ userId: member.id, organizationId: team.id, label: "removed", source: "portal" }, BY_OPERATOR);
    const legacy = `legacy-${"q".repeat(40)}`;
    const hashOnly = generateKey(PREFIX);
    await keys.importHashes(owner.id, [
      { line: 1, hash: hashKey(legacy), label: "legacy", created: new Date(), last4: legacy.slice(-4) },
      { line: 2, hash: hashKey(hashOnly), label: "imported", created: new Date(), last4: hashOnly.slice(-4) },
    ]);
    // The member leaves the team: their team keys stay, and are refused (not_member).
    await db.membership.delete({ where: { organizationId_userId: { organizationId: team.id, userId: member.id } } });

    const bearer = { presented: { scheme: "bearer" } } as const;
    const mcp = { resource: `${server.url}/mcp`, presented: { scheme: "bearer" } } as const;
    const cases: [string, Parameters<typeof keys.verify>[1], Record<string, unknown>][] = [
      [personalKey.raw, bearer, { ok: true, organizationId: personal, role: "owner" }],
      [appKey.raw, bearer, { ok: true, organizationId: team.id, app: { id: app.id } }],
      [oauthKey.raw, mcp, { ok: true, organizationId: personal }],
      [oauthKey.raw, { resource: "https://elsewhere.example", presented: { scheme: "bearer" } }, { ok: false, reason: "wrong_resource" }],
      [legacy, bearer, { ok: true, organizationId: personal }],
      [hashOnly, bearer, { ok: true, organizationId: personal }],
      [boundKey.raw, bearer, { ok: false, reason: "dpop_required" }],
      [teamKey.raw, bearer, { ok: true, organizationId: team.id, role: "owner" }],
      [removedKey.raw, bearer, { ok: false, reason: "not_member" }],
      [revokedKey.raw, bearer, { ok: false, reason: "revoked" }],
      [generateKey(PREFIX), bearer, { ok: false, reason: "unknown_key" }],
      ["not-a-key", bearer, { ok: false, reason: "invalid_format" }],
      [personalKey.raw, undefined, { ok: true, organizationId: personal }], // introspection: nobody presents it
    ];
    const before = await everything(db);
    for (let round = 0; round < 2; round++) {
      // Twice: the first read goes to the database, the second may come from the verification cache.
      for (const [raw, options, expected] of cases) expect(await keys.verify(raw, options)).toMatchObject(expected);
    }
    expect(await everything(db)).toBe(before);
  });
});
