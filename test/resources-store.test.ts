// The resource store's rules (src/resources/store.ts), from the outside: what it refuses, in words;
// that removing a resource revokes exactly the keys bound to it (proved by verifying them at its URL);
// and that the cached lookup sees every change at once, also through a second Services instance on
// the same database (both with their caches on). Both backends.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "./support/db.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/log.js";
import { openServices, type Services } from "../src/services.js";
import { ResourceInputError, ResourceNotFoundError } from "../src/resources/index.js";
import { describeEvent } from "../src/audit/describe.js";

const ISSUER = "http://kw.example.test";
const BY = { actor: { type: "cli" as const, id: null } };
const KEY_BY = { actor: { type: "cli" as const, id: null }, via: "cli" as const };

let database: TestDatabase;
let a: Services;
let b: Services;
let userId: string;

beforeAll(async () => {
  database = await createTestDatabase();
  const config = loadConfig({ DATABASE_URL: database.url, ISSUER, LOG_LEVEL: "silent", SCOPES: "mcp:read mcp:write notes:write" });
  // Two instances on one database, each with its verification cache (and so its resource cache) on.
  a = await openServices(config, createLogger("silent"), { migrate: false });
  b = await openServices(config, createLogger("silent"), { migrate: false });
  userId = (await a.users.create(`res${Date.now()}@example.com`, "correct horse battery")).id;
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  await database?.drop();
});

const refused = async (p: Promise<unknown>, message: RegExp) => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ResourceInputError);
  expect((err as Error).message).toMatch(message);
};

const mint = async (resources: string[] | null) => (await a.keys.mint({ userId, label: "k", source: "cli", resources }, KEY_BY)).raw;

describe("what the store refuses, in words", () => {
  const ok = { slug: "good", name: "Good", upstream: "http://127.0.0.1:9/mcp" };

  it("slugs: lowercase letters, digits, inner hyphens, at most 40", async () => {
    for (const slug of ["", "Notes", "-a", "a-", "a/b", "a b", "a.b", "ä", "x".repeat(41), "%2e", ".."])
      await refused(a.resources.add({ ...ok, slug }, BY), /slug/i);
  });

  it("names: present, short, no control characters", async () => {
    await refused(a.resources.add({ ...ok, slug: "n1", name: "   " }, BY), /name: A name is required/);
    await refused(a.resources.add({ ...ok, slug: "n2", name: "x".repeat(101) }, BY), /at most 100/);
    await refused(a.resources.add({ ...ok, slug: "n3", name: "a\u0000b" }, BY), /control characters/);
    await refused(a.resources.add({ ...ok, slug: "n4", name: "a\u202eb" }, BY), /control characters/);
  });

  it("upstreams: absolute http(s), no credentials, no fragment", async () => {
    await refused(a.resources.add({ ...ok, slug: "u1", upstream: "127.0.0.1:8080/mcp" }, BY), /upstream/);
    await refused(a.resources.add({ ...ok, slug: "u2", upstream: "/mcp" }, BY), /absolute http\(s\) URL/);
    await refused(a.resources.add({ ...ok, slug: "u3", upstream: "file:///etc/passwd" }, BY), /http:\/\/ or https:\/\//);
    await refused(a.resources.add({ ...ok, slug: "u4", upstream: "ftp://example.com/mcp" }, BY), /http:\/\/ or https:\/\//);
    await refused(a.resources.add({ ...ok, slug: "u5", upstream: "http://user:secret@127.0.0.1/mcp" }, BY), /user name or password/);
    await refused(a.resources.add({ ...ok, slug: "u6", upstream: "http://user@127.0.0.1/mcp" }, BY), /user name or password/);
    await refused(a.resources.add({ ...ok, slug: "u7", upstream: "http://127.0.0.1/mcp#x" }, BY), /fragment/);
    // a refusal never echoes a credential back
    const err = await a.resources.add({ ...ok, slug: "u8", upstream: "https://bob:hunter2@example.com/" }, BY).catch((e: Error) => e);
    expect((err as Error).message).not.toContain("hunter2");
    expect(await a.resources.list()).toEqual([]);
  });

  it("tool scopes: known scopes only, valid tool names", async () => {
    await refused(
      a.resources.add({ ...ok, slug: "t1", toolScopes: { notes_add: "admin:all" } }, BY),
      /notes_add: unknown scope "admin:all"/,
    );
    await refused(a.resources.add({ ...ok, slug: "t2", toolScopes: { "bad tool": "mcp:read" } }, BY), /tool name/);
    await a.resources.add({ ...ok, slug: "t3", toolScopes: { notes_add: "notes:write" } }, BY);
    await refused(a.resources.update("t3", { toolScopes: { x: "nope" } }, BY), /unknown scope "nope"/);
    expect((await a.resources.get("t3")).toolScopes).toEqual({ notes_add: "notes:write" });
    await a.resources.remove("t3", BY);
  });

  it("one way to serve it: exactly one of upstream, command (stdio) or external; env and cwd with a command only", async () => {
    const { upstream: _, ...bare } = ok;
    await refused(a.resources.add(bare, BY), /exactly one of upstream/);
    await refused(a.resources.add({ ...ok, slug: "k1", command: ["node", "server.js"] }, BY), /exactly one of upstream/);
    await refused(a.resources.add({ ...bare, slug: "k2", command: ["x"], external: "https://files.example.com/mcp" }, BY), /exactly one/);
    await refused(a.resources.add({ ...ok, slug: "k3", env: { A: "1" } }, BY), /env and cwd apply to a stdio resource/);
    await refused(a.resources.add({ ...bare, slug: "k4", command: [] }, BY), /names a program/);
    await refused(a.resources.add({ ...bare, slug: "k5", command: ["x"], cwd: "relative/dir" }, BY), /absolute path/);
    await refused(a.resources.add({ ...bare, slug: "k6", command: ["x"], env: { "BAD-NAME": "1" } }, BY), /environment variable name/);
    await refused(a.resources.add({ ...bare, slug: "k7", command: ["x"], env: { KEYWARD_USER_ID: "u" } }, BY), /set by the gateway/);
    await refused(a.resources.add({ ...bare, slug: "k8", external: "http://files.example.com/mcp" }, BY), /https:\/\//);
    await refused(a.resources.add({ ...bare, slug: "k9", external: "https://files.example.com/mcp?x=1" }, BY), /query/);
    expect(await a.resources.list()).toEqual([]);
  });

  it("stdio and external resources are stored as given; the audit trail names env variables, never their values", async () => {
    const s = await a.resources.add(
      { slug: "files", name: "Files", command: ["npx", "-y", "fs server"], env: { TOKEN: "s3cret" }, cwd: "/srv" },
      BY,
    );
    expect(s.transport).toEqual({ kind: "stdio", command: ["npx", "-y", "fs server"], env: { TOKEN: "s3cret" }, cwd: "/srv" });
    expect(s.url).toBe(`${a.config.baseUrl}/mcp/files`);
    const x = await a.resources.add({ slug: "far", name: "Far", external: "https://Far.Example.com/mcp" }, BY);
    expect(x.transport).toEqual({ kind: "external", url: "https://far.example.com/mcp" });
    expect(x.url).toBe("https://far.example.com/mcp"); // the audience of its keys is the server's own URL
    await refused(a.resources.add({ slug: "far2", name: "Far 2", external: "https://far.example.com/mcp" }, BY), /already/);
    const details = (await a.db.auditEvent.findMany({ where: { action: "resource.added" } })).map((e) => e.details).join(" ");
    expect(details).toContain("TOKEN");
    expect(details).not.toContain("s3cret");

    // http and stdio may replace each other; env/cwd changes keep the command
    expect((await a.resources.update("files", { env: { TOKEN: "t2" } }, BY)).transport).toMatchObject({
      command: ["npx", "-y", "fs server"],
      env: { TOKEN: "t2" },
    });
    expect((await a.resources.update("files", { upstream: "http://127.0.0.1:9/mcp" }, BY)).transport).toEqual({
      kind: "http",
      upstream: "http://127.0.0.1:9/mcp",
    });
    await refused(a.resources.update("files", { cwd: "/tmp" }, BY), /stdio resource/);
    // an external resource's URL is its keys' audience: it never changes, and nothing becomes or stops being external
    await refused(a.resources.update("far", { external: "https://other.example.com/mcp" }, BY), /cannot change/);
    await refused(a.resources.update("far", { upstream: "http://127.0.0.1:9/mcp" }, BY), /cannot change/);
    await refused(a.resources.update("files", { external: "https://other.example.com/mcp" }, BY), /cannot change/);
    await a.resources.remove("files", BY);
    await a.resources.remove("far", BY);
  });

  it("a slug once: a second add is refused, whatever the case or spelling of the rest", async () => {
    await a.resources.add(ok, BY);
    await refused(a.resources.add({ ...ok, name: "Other" }, BY), /"good" exists already/);
    await refused(b.resources.add(ok, BY), /exists already/);
    expect((await a.resources.list()).map((r) => r.slug)).toEqual(["good"]);
    await a.resources.remove("good", BY);
  });

  it("unknown slugs are ResourceNotFoundError for get, update and remove", async () => {
    for (const p of [a.resources.get("nope"), a.resources.update("nope", { name: "x" }, BY), a.resources.remove("nope", BY)])
      await expect(p).rejects.toBeInstanceOf(ResourceNotFoundError);
  });

  it("records resource.added / updated / removed with no user, and no event for an update that changes nothing", async () => {
    const r = await a.resources.add({ slug: "audited", name: "Audited", upstream: "http://127.0.0.1:9/mcp" }, BY);
    await a.resources.update("audited", {}, BY);
    await a.resources.update("audited", { name: "Audited 2" }, BY);
    await a.resources.remove("audited", BY);
    const events = await a.db.auditEvent.findMany({ where: { targetId: r.id }, orderBy: { createdAt: "asc" } });
    const views = events.map((e) => ({
      ...e,
      details: JSON.parse(e.details) as Record<string, unknown>,
      createdAt: e.createdAt.toISOString(),
    }));
    expect(views.map((e) => describeEvent(e, { viewerId: "nobody", orgNames: new Map() })).map((d) => [d.what, d.summary])).toEqual([
      ["Protected MCP server added", "“Audited” at /mcp/audited"],
      ["Protected MCP server changed", "“Audited 2” at /mcp/audited: name changed"],
      ["Protected MCP server removed", "“Audited 2” at /mcp/audited"],
    ]);
    expect(events.map((e) => [e.action, e.userId, e.actorType])).toEqual([
      ["resource.added", null, "cli"],
      ["resource.updated", null, "cli"],
      ["resource.removed", null, "cli"],
    ]);
  });
});

describe("removing a resource revokes exactly the keys bound to it", () => {
  it("alone or with others; not keys for …/mcp/ab when …/mcp/a goes, nor unbound keys", async () => {
    const [ra, rab, rother] = await Promise.all(
      ["a", "ab", "other"].map((slug) => a.resources.add({ slug, name: slug, upstream: "http://127.0.0.1:9/mcp" }, BY)),
    );
    const onlyA = await mint([ra!.url]);
    const aAndOther = await mint([rother!.url, ra!.url]);
    const aMiddle = await mint([rab!.url, ra!.url, rother!.url]);
    const onlyAb = await mint([rab!.url]);
    const unbound = await mint(null);
    for (const raw of [onlyA, aAndOther, aMiddle, unbound]) expect((await b.keys.verify(raw, { resource: ra!.url })).ok).toBe(true);
    expect(await a.keys.countBoundTo(ra!.url)).toBe(3);
    expect(await a.keys.countBoundTo(rab!.url)).toBe(2);

    const { keysRevoked } = await a.resources.remove("a", BY);
    expect(keysRevoked).toBe(3);
    // from the outside, through the other instance's cache: the three keys bound to a no longer work anywhere
    for (const raw of [onlyA, aAndOther, aMiddle]) {
      expect(await b.keys.verify(raw, { resource: ra!.url })).toMatchObject({ ok: false, reason: "revoked" });
      expect((await b.keys.verify(raw, { resource: rother!.url })).ok).toBe(false);
    }
    expect((await b.keys.verify(onlyAb, { resource: rab!.url })).ok).toBe(true);
    expect((await b.keys.verify(unbound, { resource: rother!.url })).ok).toBe(true);
    expect(await a.keys.countBoundTo(ra!.url)).toBe(0);
    expect(await a.keys.countBoundTo(rab!.url)).toBe(1);

    // each revoked key has its own key.revoked event, via resource_removed, naming the resource
    const revoked = await a.db.auditEvent.findMany({ where: { userId, action: "key.revoked" } });
    expect(revoked).toHaveLength(3);
    for (const e of revoked) expect(JSON.parse(e.details)).toMatchObject({ via: "resource_removed", resource: "a" });
    // and reads in words on the owner's activity page
    const [shown] = await a.audit.listForUser(userId, { limit: 1 });
    expect(describeEvent(shown!, { viewerId: userId, orgNames: new Map() })).toMatchObject({
      what: "API key revoked",
      by: "The server operator (command line)",
      summary: expect.stringContaining("because the MCP server it was for (/mcp/a) was removed"),
    });

    // the slug added again does not bring the old keys back
    await a.resources.add({ slug: "a", name: "a again", upstream: "http://127.0.0.1:9/mcp" }, BY);
    expect((await b.keys.verify(onlyA, { resource: ra!.url })).ok).toBe(false);
    for (const slug of ["a", "ab", "other"]) await a.resources.remove(slug, BY);
  });
});

describe("an expired key counts as no key", () => {
  it("countBoundTo and holdsKeyAt (the stdio owner check) leave out a key past its expiry, as verification refuses it", async () => {
    const r = await a.resources.add({ slug: "expiring", name: "Expiring", upstream: "http://127.0.0.1:9/mcp" }, BY);
    // a user of their own: the shared one holds keys bound to every resource from the tests above
    const alone = (await a.users.create(`expiring${Date.now()}@example.com`, "correct horse battery")).id;
    const minted = await a.keys.mint({ userId: alone, label: "soon", source: "cli", resources: [r.url] }, KEY_BY);
    const owner = { userId: alone, organizationId: minted.key.organizationId ?? "" };
    expect(await a.keys.countBoundTo(r.url)).toBe(1);
    expect(await a.keys.holdsKeyAt(owner, r.url)).toBe(true);

    await a.db.apiKey.update({ where: { id: minted.key.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(await b.keys.verify(minted.raw, { resource: r.url })).toMatchObject({ ok: false, reason: "expired" });
    expect(await a.keys.countBoundTo(r.url)).toBe(0);
    expect(await a.keys.holdsKeyAt(owner, r.url)).toBe(false);
    await a.resources.remove("expiring", BY);
  });
});

describe("the lookup sees every change at once, on this instance and the other", () => {
  it("add, update, remove: the very next lookup on either instance", async () => {
    const url = `${ISSUER}/mcp/live`;
    // warm both caches with the miss (a miss is never held, but try anyway)
    expect(await a.resources.lookup.bySlug("live")).toBeUndefined();
    expect(await b.resources.lookup.byUrl(url)).toBeUndefined();

    await a.resources.add({ slug: "live", name: "Live", upstream: "http://127.0.0.1:9/mcp" }, BY);
    expect((await b.resources.lookup.byUrl(url))?.name).toBe("Live");
    expect((await a.resources.lookup.bySlug("live"))?.name).toBe("Live");
    // held now on both; change through b, then through a
    await b.resources.update("live", { name: "Live 2", upstream: "http://127.0.0.1:10/mcp" }, BY);
    expect(await a.resources.lookup.bySlug("live")).toMatchObject({
      name: "Live 2",
      transport: { kind: "http", upstream: "http://127.0.0.1:10/mcp" },
    });
    expect((await b.resources.lookup.bySlug("live"))?.name).toBe("Live 2");
    await a.resources.update("live", { toolScopes: { notes_add: "notes:write" } }, BY);
    expect((await b.resources.lookup.bySlug("live"))?.toolScopes).toEqual({ notes_add: "notes:write" });

    await b.resources.remove("live", BY);
    expect(await a.resources.lookup.bySlug("live")).toBeUndefined();
    expect(await a.resources.lookup.byUrl(url)).toBeUndefined();
    expect(await b.resources.lookup.bySlug("live")).toBeUndefined();
  });

  it("byUrl answers only for this issuer's gateway URLs", async () => {
    await a.resources.add({ slug: "url", name: "U", upstream: "http://127.0.0.1:9/mcp" }, BY);
    expect((await a.resources.lookup.byUrl(`${ISSUER}/mcp/url`))?.slug).toBe("url");
    for (const other of [`${ISSUER}/mcp`, `${ISSUER}/mcp/url/`, `${ISSUER}/mcp/URL`, `http://evil.test/mcp/url`, `${ISSUER}/mcp/url?x`])
      expect(await a.resources.lookup.byUrl(other)).toBeUndefined();
    await a.resources.remove("url", BY);
  });
});
