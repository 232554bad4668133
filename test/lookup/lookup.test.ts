// Verification through the server's key lookup (src/keys/lookup/index.ts) on the real database of this
// run: a revocation, a removed member, a new role made through another connection (another instance,
// the CLI) are seen on the very next verify, with the row held in the cache until then.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db } from "../../src/db/client.js";
import { openKeyLookup, type KeyLookup } from "../../src/keys/lookup/index.js";
import { announcingKeyWrites } from "../../src/keys/lookup/announce.js";
import { createKeys } from "../../src/keys/index.js";
import { createOrganizations } from "../../src/orgs/organizations.js";
import { makeUser, openTestDb, type TestDb } from "../support/test-db.js";
import { BY_OPERATOR } from "../support/acting.js";

const PREFIX = "kw_user_";
const SCOPES = ["mcp:read", "mcp:write"];

describe("verification with the cache on the real database", () => {
  let t: TestDb;
  let other: Db; // another connection: another instance, or the CLI, announcing its writes as they do
  let otherLookup: KeyLookup; // uncached, as one-shot CLI commands open it
  let lookup: KeyLookup; // this instance's, with the cache on
  beforeAll(async () => {
    t = await openTestDb();
    otherLookup = openKeyLookup(t.url, { cacheSize: 0 });
    other = announcingKeyWrites(await createDb(t.url), otherLookup.announce);
    lookup = openKeyLookup(t.url, { cacheSize: 100 });
    await lookup.feed?.ready();
  });
  afterAll(async () => {
    await lookup?.close();
    await otherLookup?.close();
    await other?.$disconnect();
    await t?.close();
  });

  const keysFor = (db: Db) => createKeys(db, { prefix: PREFIX, scopes: SCOPES, lastUsedFlushMs: 3600_000, reader: lookup.reader });
  // A first mint creates the user's personal organisation, and its new membership notifies the feed
  // (PostgreSQL) some time after the commit: a verify made before the notification arrives fills the
  // cache, which the notification then empties. announce() resolves once this instance has emptied its
  // cache for a change sent after every commit so far, so it has processed the mint's notification too
  // (delivered in commit order). SQLite needs no wait: its token is read from the file itself.
  const settled = async () => lookup.announce?.();

  it("repeated verifies are answered from memory", async () => {
    const keys = keysFor(t.db);
    const user = await makeUser(t.db);
    const { raw } = await keys.mint({ userId: user.id, label: "hot", source: "portal" }, BY_OPERATOR);
    await settled();
    expect((await keys.verify(raw)).ok).toBe(true); // the one miss: reads the row and keeps it
    const before = lookup.stats()!;
    for (let i = 0; i < 20; i++) expect((await keys.verify(raw)).ok).toBe(true);
    const after = lookup.stats()!;
    expect(after.hits - before.hits).toBe(20);
    expect(after.misses).toBe(before.misses);
  });

  it("a key revoked through another connection fails the very next verify", async () => {
    const keys = keysFor(t.db);
    const user = await makeUser(t.db);
    const minted = await keys.mint({ userId: user.id, label: "victim", source: "portal" }, BY_OPERATOR);
    await settled();
    for (let i = 0; i < 2; i++) expect((await keys.verify(minted.raw)).ok).toBe(true);
    const hits = lookup.stats()!.hits;
    expect((await keys.verify(minted.raw)).ok).toBe(true);
    expect(lookup.stats()!.hits).toBe(hits + 1); // the row is in memory...
    // ...when another instance revokes the key
    await keysFor(other).revoke({ kind: "own", userId: user.id, id: minted.key.id }, BY_OPERATOR);
    expect(await keys.verify(minted.raw)).toMatchObject({ ok: false, reason: "revoked" });
  });

  it("a member removed through another connection fails the very next verify; a new role applies at once", async () => {
    const keys = keysFor(t.db);
    const owner = await makeUser(t.db);
    const member = await makeUser(t.db);
    const orgs = createOrganizations(t.db);
    const org = await orgs.create(owner.id, `Team ${member.id.slice(-6)}`);
    await t.db.membership.create({ data: { organizationId: org.id, userId: member.id, role: "member" } });
    const minted = await keys.mint({ userId: member.id, label: "team key", source: "portal", organizationId: org.id }, BY_OPERATOR);
    await settled(); // the new organisation's memberships notify too
    const first = await keys.verify(minted.raw);
    expect(first.ok && first.role).toBe("member");
    const hits = lookup.stats()!.hits;
    expect((await keys.verify(minted.raw)).ok).toBe(true);
    expect(lookup.stats()!.hits).toBe(hits + 1);

    await other.membership.update({
      where: { organizationId_userId: { organizationId: org.id, userId: member.id } },
      data: { role: "viewer" },
    });
    const demoted = await keys.verify(minted.raw);
    expect(demoted.ok && demoted.role).toBe("viewer");

    await other.membership.delete({ where: { organizationId_userId: { organizationId: org.id, userId: member.id } } });
    expect(await keys.verify(minted.raw)).toMatchObject({ ok: false, reason: "not_member" });
  });

  it("PostgreSQL: the change feed vouches for the cache", async (test) => {
    if (!t.url.startsWith("postgres")) return test.skip();
    expect(lookup.changeCheck).toBe("feed");
  });

  it("PostgreSQL without the change feed: nothing vouches, so nothing is kept; a hand-made revocation is seen at once", async (test) => {
    if (!t.url.startsWith("postgres")) return test.skip();
    const unvouched = openKeyLookup(t.url, { cacheSize: 100, changeFeed: false });
    test.onTestFinished(() => unvouched.close());
    expect(unvouched.changeCheck).toBe("none");
    expect(unvouched.stats()).toBeNull();
    const keys = createKeys(t.db, { prefix: PREFIX, scopes: SCOPES, lastUsedFlushMs: 3600_000, reader: unvouched.reader });
    const user = await makeUser(t.db);
    const minted = await keys.mint({ userId: user.id, label: "no feed", source: "portal" }, BY_OPERATOR);
    for (let i = 0; i < 3; i++) expect((await keys.verify(minted.raw)).ok).toBe(true);
    await t.db.$executeRawUnsafe(`UPDATE "ApiKey" SET "revokedAt" = now() WHERE id = $1`, minted.key.id);
    expect(await keys.verify(minted.raw)).toMatchObject({ ok: false, reason: "revoked" });
  });
});
