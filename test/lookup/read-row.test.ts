// The key-row read (src/keys/lookup/read-row.ts): the server's driver reader and Prisma's give the
// same row, dates included, on the database of this run.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openKeyLookup, prismaKeyReader } from "../../src/keys/lookup/index.js";
import { createKeys } from "../../src/keys/index.js";
import { digestKey } from "../../src/keys/hash.js";
import { makeUser, openTestDb, type TestDb } from "../support/test-db.js";
import { BY_OPERATOR } from "../support/acting.js";

let t: TestDb;
beforeAll(async () => {
  t = await openTestDb();
});
afterAll(async () => {
  await t?.close();
});

describe("reading a key row", () => {
  it("the driver's row is Prisma's: same columns, same dates, same join", async () => {
    const lookup = openKeyLookup(t.url, { cacheSize: 0 });
    try {
      const keys = createKeys(t.db, { prefix: "kw_user_", scopes: ["mcp:read"], lastUsedFlushMs: 3600_000 });
      const user = await makeUser(t.db);
      const { raw, key } = await keys.mint({ userId: user.id, label: "same", source: "portal" }, BY_OPERATOR);
      await t.db.apiKey.update({ where: { id: key.id }, data: { lastUsedAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)) } });
      const driver = await lookup.reader.find(digestKey(raw));
      expect(driver).toEqual(await prismaKeyReader(t.db).find(digestKey(raw)));
      expect(driver).toMatchObject({ id: key.id, userEmail: user.email, memberRole: "owner", appName: null, revokedAt: null });
      expect(driver?.lastUsedAt?.toISOString()).toBe("2026-01-02T03:04:05.678Z");
      expect(await lookup.reader.find(digestKey(raw + "x"))).toBeUndefined();
    } finally {
      await lookup.close();
    }
  });
});
