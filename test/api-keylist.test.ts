// Issue 27 item 4 in the JSON API: the list's filters (?q=, ?status=, ?source=, with paging),
// PATCH /api/api-keys/:id {label} (rename) and POST /api/api-keys/revoke ({ids} all or none, or
// {unused_days}, either with dry_run). Another user's id answers exactly like a missing one and
// their key keeps working at /mcp; bad input is a 400 in OAuth's error shape, never a 500.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { mintOnPage, signUp, startTestServer, type TestServer } from "./support/server.js";
import { backdateKey, signUpWithPageKey } from "./support/keys.js";
import { BY_OPERATOR } from "./support/acting.js";
import { mcpStatus } from "./support/mcp-status.js";

let server: TestServer;
type Person = Awaited<ReturnType<typeof signUp>> & { raw: string; id: string };
let alice: Person;
let bob: Person;
let bobsKeyId: string;

interface KeyBody {
  id: string;
  label: string;
  status: string;
  source: string;
  lastUsedAt: string | null;
}

const api = (raw: string) => ({
  get: (path: string) => request(server.url).get(path).set("Authorization", `Bearer ${raw}`),
  post: (path: string, body: unknown) =>
    request(server.url)
      .post(path)
      .set("Authorization", `Bearer ${raw}`)
      .send(body as object),
  patch: (path: string, body: unknown) =>
    request(server.url)
      .patch(path)
      .set("Authorization", `Bearer ${raw}`)
      .send(body as object),
});

const comparable = (res: request.Response) => {
  const headers = { ...res.headers } as Record<string, string>;
  delete headers.date;
  return { status: res.status, text: res.text, headers };
};

const mint = async (userId: string, label: string, source: "portal" | "cli" | "unknown" = "portal") =>
  server.services.keys.mint({ userId, label, source }, BY_OPERATOR);

const person = (label: string): Promise<Person> => signUpWithPageKey(server, label);

beforeAll(async () => {
  server = await startTestServer();
  alice = await person("alice root");
  bob = await person("bob root");
  bobsKeyId = (await server.services.keys.page(bob.id)).items[0]!.id;
});
afterAll(async () => server?.close());

describe("GET /api/api-keys filters", () => {
  it("q (any case, % as text), status and source narrow the query; paging follows the filtered list", async () => {
    const p = await person("root");
    for (let i = 0; i < 7; i++) await mint(p.id, `Build ${i}`, i < 3 ? "cli" : "portal");
    await mint(p.id, "100% sure");
    const gone = await mint(p.id, "build old");
    await server.services.keys.revoke({ kind: "own", userId: p.id, id: gone.key.id }, BY_OPERATOR);

    const labels = async (query: string) =>
      ((await api(p.raw).get(`/api/api-keys?${query}`).expect(200)).body as { data: KeyBody[] }).data.map((k) => k.label);
    expect(await labels("q=BUILD")).toHaveLength(8);
    expect(await labels("q=%25")).toEqual(["100% sure"]);
    expect(await labels("q=build&status=revoked")).toEqual(["build old"]);
    expect(await labels("source=cli")).toEqual(["Build 2", "Build 1", "Build 0"]);
    expect(await labels("q=build&status=active&source=portal")).toEqual(["Build 6", "Build 5", "Build 4", "Build 3"]);

    const first = (await api(p.raw).get("/api/api-keys?q=build&limit=5").expect(200)).body as { data: KeyBody[]; next_cursor: string };
    expect(first.data).toHaveLength(5);
    const second = (await api(p.raw).get(`/api/api-keys?q=build&limit=5&cursor=${first.next_cursor}`).expect(200)).body as {
      data: KeyBody[];
      next_cursor: string | null;
    };
    expect(second.data.map((k) => k.label)).toEqual(["Build 2", "Build 1", "Build 0"]);
    expect(second.next_cursor).toBeNull();
  });

  it("refuses unknown filter values with a 400 naming the field", async () => {
    for (const [query, field] of [
      ["status=expiring", "status"],
      ["source=email", "source"],
      [`q=${"x".repeat(101)}`, "q"],
    ]) {
      const res = await api(alice.raw).get(`/api/api-keys?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error).toBe("invalid_request");
      expect(res.body.error_description).toMatch(new RegExp(`^${field}: `));
    }
  });
});

describe("PATCH /api/api-keys/:id (rename)", () => {
  it("renames, answers with the key, writes key.renamed; the key keeps working", async () => {
    const minted = await mint(alice.id, "api before");
    const res = await api(alice.raw).patch(`/api/api-keys/${minted.key.id}`, { label: "  api after  " }).expect(200);
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.body).toMatchObject({ id: minted.key.id, label: "api after", status: "active" });
    expect(res.body).not.toHaveProperty("key");
    expect(((await api(alice.raw).get(`/api/api-keys/${minted.key.id}`).expect(200)).body as KeyBody).label).toBe("api after");
    const events = await server.services.db.auditEvent.findMany({ where: { action: "key.renamed", targetId: minted.key.id } });
    expect(events).toHaveLength(1);
    expect(JSON.parse(String(events[0]!.details))).toMatchObject({ via: "api", label: "api after", previousLabel: "api before" });
    expect(await mcpStatus(server, minted.raw)).toBe(200);
    // the same label again: no change, no second event
    await api(alice.raw).patch(`/api/api-keys/${minted.key.id}`, { label: "api after" }).expect(200);
    expect(await server.services.db.auditEvent.count({ where: { action: "key.renamed", targetId: minted.key.id } })).toBe(1);
  });

  it("bad labels and bodies: 400/415 in the error shape, nothing renamed", async () => {
    const minted = await mint(alice.id, "unchanged");
    const path = `/api/api-keys/${minted.key.id}`;
    const cases: [unknown, RegExp][] = [
      [{ label: "" }, /must not be empty/],
      [{ label: "   " }, /must not be empty/],
      [{ label: "x".repeat(10_000) }, /at most 100 characters/],
      [{ label: "x".repeat(10_001) }, /label: /],
      [{ label: "tab\there" }, /control characters/],
      [{ label: 42 }, /label: /],
      [{}, /give label, allowedIps or rateLimit/],
      [{ label: "ok", scopes: ["mcp:read"] }, /scopes|Unrecognized/i],
    ];
    for (const [body, message] of cases) {
      const res = await api(alice.raw).patch(path, body);
      expect(res.status, JSON.stringify(body).slice(0, 40)).toBe(400);
      expect(res.body.error).toBe("invalid_request");
      expect(res.body.error_description).toMatch(message);
    }
    // ill-formed Unicode (a lone surrogate in JSON) is refused before any handler
    const lone = await request(server.url)
      .patch(path)
      .set("Authorization", `Bearer ${alice.raw}`)
      .set("Content-Type", "application/json")
      .send('{"label":"\\ud800"}');
    expect(lone.status).toBe(400);
    const form = await request(server.url).patch(path).set("Authorization", `Bearer ${alice.raw}`).type("form").send({ label: "x" });
    expect(form.status).toBe(415);
    expect(((await api(alice.raw).get(path).expect(200)).body as KeyBody).label).toBe("unchanged");
  });

  it("another user's key id: exactly the 404 of a missing id; their key keeps its label and works", async () => {
    const missing = `key_${"A".repeat(20)}`;
    expect(missing).toHaveLength(bobsKeyId.length);
    const other = await api(alice.raw).patch(`/api/api-keys/${bobsKeyId}`, { label: "mine" });
    const none = await api(alice.raw).patch(`/api/api-keys/${missing}`, { label: "mine" });
    expect(other.status).toBe(404);
    expect(other.body).toEqual({ error: "not_found", error_description: "No API key with that id." });
    expect(comparable(other)).toEqual(comparable(none));
    expect(((await api(bob.raw).get(`/api/api-keys/${bobsKeyId}`).expect(200)).body as KeyBody).label).toBe("bob root");
    expect(await mcpStatus(server, bob.raw)).toBe(200);
  });

  it("needs keys:write, and X-CSRF-Token with a browser session", async () => {
    const readOnly = (await mintOnPage(alice.agent, alice.csrf, "reader", ["keys:read"])).raw;
    const minted = await mint(alice.id, "scoped target");
    const res = await api(readOnly).patch(`/api/api-keys/${minted.key.id}`, { label: "nope" });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe("insufficient_scope");
    await alice.agent.patch(`/api/api-keys/${minted.key.id}`).send({ label: "nope" }).expect(403);
    await alice.agent.patch(`/api/api-keys/${minted.key.id}`).set("X-CSRF-Token", alice.csrf).send({ label: "session ok" }).expect(200);
  });
});

describe("POST /api/api-keys/revoke (bulk)", () => {
  it("ids: all of them, one event each; dry_run lists without revoking", async () => {
    const a = await mint(alice.id, "bulk a");
    const b = await mint(alice.id, "bulk b");
    const dry = await api(alice.raw)
      .post("/api/api-keys/revoke", { ids: [a.key.id, b.key.id, a.key.id], dry_run: true })
      .expect(200);
    expect(dry.body.dry_run).toBe(true);
    expect((dry.body.data as KeyBody[]).map((k) => k.label)).toEqual(["bulk a", "bulk b"]);
    expect(await mcpStatus(server, a.raw)).toBe(200);
    const done = await api(alice.raw)
      .post("/api/api-keys/revoke", { ids: [a.key.id, b.key.id] })
      .expect(200);
    expect(done.body.dry_run).toBe(false);
    expect((done.body.data as KeyBody[]).map((k) => [k.label, k.status])).toEqual([
      ["bulk a", "revoked"],
      ["bulk b", "revoked"],
    ]);
    expect(await mcpStatus(server, a.raw)).toBe(401);
    expect(await mcpStatus(server, b.raw)).toBe(401);
    expect(await server.services.db.auditEvent.count({ where: { action: "key.revoked", targetId: { in: [a.key.id, b.key.id] } } })).toBe(2);
    // again: nothing more to revoke, nothing recorded
    expect(
      (
        await api(alice.raw)
          .post("/api/api-keys/revoke", { ids: [a.key.id] })
          .expect(200)
      ).body.data,
    ).toEqual([]);
  });

  it("another user's id among them: exactly the 404 of a missing id, and nothing is revoked", async () => {
    const mine = await mint(alice.id, "bulk mine");
    const missing = `key_${"C".repeat(20)}`;
    const other = await api(alice.raw).post("/api/api-keys/revoke", { ids: [mine.key.id, bobsKeyId] });
    const none = await api(alice.raw).post("/api/api-keys/revoke", { ids: [mine.key.id, missing] });
    expect(other.status).toBe(404);
    expect(comparable(other)).toEqual(comparable(none));
    expect(await mcpStatus(server, mine.raw)).toBe(200);
    expect(await mcpStatus(server, bob.raw)).toBe(200);
  });

  it("unused_days: keys created before then and unused since; dry_run first; used or young keys stay", async () => {
    const p = await person("unused root");
    const never = await mint(p.id, "never used, 40 days old");
    const stale = await mint(p.id, "used 35 days ago");
    const recent = await mint(p.id, "used 2 days ago");
    const young = await mint(p.id, "10 days old, never used");
    await backdateKey(server, never.key.id, 40, null);
    await backdateKey(server, stale.key.id, 60, 35);
    await backdateKey(server, recent.key.id, 60, 2);
    await backdateKey(server, young.key.id, 10, null);
    await backdateKey(server, (await server.services.keys.page(p.id)).items.find((k) => k.label === "unused root")!.id, 1, 0);

    const dry = await api(p.raw).post("/api/api-keys/revoke", { unused_days: 30, dry_run: true }).expect(200);
    expect((dry.body.data as KeyBody[]).map((k) => k.label)).toEqual(["used 35 days ago", "never used, 40 days old"]); // oldest first;
    expect(await mcpStatus(server, never.raw)).toBe(200); // a use now: pending in the tracker, written before the real run
    const done = await api(p.raw).post("/api/api-keys/revoke", { unused_days: 30 }).expect(200);
    expect((done.body.data as KeyBody[]).map((k) => k.label)).toEqual(["used 35 days ago"]);
    expect(await mcpStatus(server, stale.raw)).toBe(401);
    for (const k of [never, recent, young]) expect(await mcpStatus(server, k.raw)).toBe(200);
    // Bob's old keys are not Alice's to sweep
    await backdateKey(server, bobsKeyId, 400, null);
    expect((await api(alice.raw).post("/api/api-keys/revoke", { unused_days: 1, dry_run: true }).expect(200)).body.data).not.toContainEqual(
      expect.objectContaining({ id: bobsKeyId }),
    );
    await backdateKey(server, bobsKeyId, 0, null);
  });

  it('bad bodies: 0, -1, 1.5, "abc", both or neither of ids and unused_days, too many ids → 400', async () => {
    const bodies: unknown[] = [
      { unused_days: 0 },
      { unused_days: -1 },
      { unused_days: 1.5 },
      { unused_days: "abc" },
      { unused_days: "30" },
      { ids: [] },
      { ids: ["key_x"], unused_days: 5 },
      {},
      { ids: Array.from({ length: 501 }, (_, i) => `key_${i}`) },
      { ids: "key_a,key_b" },
      { ids: ["key_a"], dry_run: "yes" },
    ];
    for (const body of bodies) {
      const res = await api(alice.raw).post("/api/api-keys/revoke", body);
      expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(400);
      expect(res.body.error).toBe("invalid_request");
    }
    expect(await mcpStatus(server, alice.raw)).toBe(200);
  });
});
