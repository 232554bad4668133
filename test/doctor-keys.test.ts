// The connection doctor's remaining gaps (issue 26 item 1): refusals of keys that belong to no OAuth
// client (portal, CLI keys) are recorded per key and user, and shown on the key's doctor page (linked
// from its row) and by `keyward doctor --key`; a refused pushed authorization request (PAR) is recorded
// and answered in the doctor's words; the JSON API's 401s use the same words without recording them.
// Every failure is made on purpose from the outside.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { signUp, signUpWithKey, startTestServer, type Person, type TestServer } from "./support/server.js";
import { keyApi } from "./support/keys.js";
import { authorizeParams, authorizeWithPkce, exchange, pkcePair, register } from "./support/oauth/flow.js";
import { keyward } from "./support/cli-run.js";
import { clientDoctorPath, doctorPageShowing, keyDoctorPath } from "./support/doctor.js";
import { mcpToolCall } from "./support/mcp-status.js";

const BY_CLI = { actor: { type: "cli" as const } };
const SLOW = { timeout: 120_000 }; // each test runs the CLI: a shared machine is slow
const DENIED = "The key is not allowed from this client IP address (its IP allowlist does not include it)";

let server: TestServer;
let ada: Person;
let adaAdmin: string;
let eve: Person;
let mcp: string;
let notes: string;

const api = (raw: string) => keyApi(server, raw);

/** A portal key of Ada's, minted through the JSON API. */
async function mint(body: Record<string, unknown>): Promise<{ id: string; raw: string }> {
  const res = await api(adaAdmin).post("/api/api-keys").send(body);
  expect(res.status, res.text).toBe(201);
  return { id: res.body.id as string, raw: res.body.key as string };
}

const call = (raw: string, path?: string, tool?: string) => mcpToolCall(server, raw, path, tool);

const keyPage = (who: Person, id: string) => who.agent.get(keyDoctorPath(id));

const cli = (args: string[]) => keyward(["doctor", ...args], { env: { DATABASE_URL: server.database.url } });

/** The refusal, seen on the key's doctor page and in `keyward doctor --key` (table and JSON). */
async function seenForKey(id: string, words: string): Promise<void> {
  expect(await doctorPageShowing(server, ada, keyDoctorPath(id), words)).toContain("MCP request");
  const json = await cli(["--key", id, "--json"]);
  expect(json.code, json.stderr).toBe(0);
  const events = JSON.parse(json.stdout) as { clientId: string | null; keyId: string; step: string; outcome: string; reason: string }[];
  expect(events[0]).toMatchObject({ clientId: null, keyId: id, step: "mcp_request", outcome: "failed", reason: words });
}

beforeAll(async () => {
  server = await startTestServer();
  const withKey = await signUpWithKey(server);
  ada = withKey.person;
  adaAdmin = withKey.admin;
  eve = await signUp(server);
  mcp = `${server.url}/mcp`;
  notes = (await server.services.resources.add({ slug: "notes", name: "Notes", upstream: "http://127.0.0.1:4660/mcp" }, BY_CLI)).url;
});
afterAll(async () => server?.close());

describe("refusals of a portal key, recorded for the key and its owner", SLOW, () => {
  it("bound to another resource", async () => {
    const key = await mint({ label: "notes only", resources: [notes] });
    const res = await call(key.raw);
    expect(res.status).toBe(401);
    const words = `The key was issued for another resource: it is bound to ${notes} but was sent to ${mcp}`;
    expect(res.body.error_description).toBe(words);
    await seenForKey(key.id, words);
  });

  it("revoked, and when", async () => {
    const key = await mint({ label: "to revoke" });
    expect((await call(key.raw)).status).toBe(200);
    await api(adaAdmin).delete(`/api/api-keys/${key.id}`).expect(200);
    const res = await call(key.raw);
    expect(res.status).toBe(401);
    expect(res.body.error_description).toBe("The key has been revoked (just now)");
    await seenForKey(key.id, "The key has been revoked (just now)");
    const table = await cli(["--key", key.id]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain("The key has been revoked (just now)");
  });

  it("expired", async () => {
    const key = await mint({ label: "short", expires: "7d" });
    await server.services.db.apiKey.update({ where: { id: key.id }, data: { expiresAt: new Date(Date.now() - 5 * 60_000) } });
    const res = await call(key.raw);
    expect(res.status).toBe(401);
    expect(res.body.error_description).toBe("The key has expired (5 minutes ago)");
    await seenForKey(key.id, "The key has expired (5 minutes ago)");
  });

  it("lacking the scope a tool needs (403)", async () => {
    const key = await mint({ label: "read only", scopes: ["mcp:read"] });
    const res = await call(key.raw, "/mcp", "notes_add");
    expect(res.status).toBe(403);
    const words = "This key lacks the mcp:write scope (needed for notes_add)";
    expect(res.body.error_description).toBe(words);
    await seenForKey(key.id, words);
  });

  it("from an address its IP allowlist does not include", async () => {
    const key = await mint({ label: "office only", allowedIps: ["198.51.100.0/24"] });
    const res = await call(key.raw);
    expect(res.status).toBe(401);
    expect(res.body.error_description).toBe(DENIED);
    await seenForKey(key.id, DENIED);
  });

  it("a success is not recorded (only an OAuth key's first one is), and the key's row links its doctor", async () => {
    const key = await mint({ label: "works" });
    expect((await call(key.raw)).status).toBe(200);
    await server.services.doctor.events.settled();
    expect(await server.services.doctor.events.ofKey(key.id)).toEqual([]);
    const page = await keyPage(ada, key.id);
    expect(page.status).toBe(200);
    expect(page.text).toContain("No connection events yet.");
    const keys = await ada.agent.get("/app/account/api-keys");
    expect(keys.text).toContain(keyDoctorPath(key.id));
  });

  it("another user gets the same 404 for Ada's key as for a missing one, and never her events", async () => {
    const key = await mint({ label: "ada's" });
    await api(adaAdmin).delete(`/api/api-keys/${key.id}`).expect(200);
    expect((await call(key.raw)).status).toBe(401);
    await server.services.doctor.events.settled();
    const theirs = await keyPage(eve, key.id);
    const missing = await keyPage(eve, "key_doesnotexist");
    expect(theirs.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(theirs.text).toBe(missing.text);
    expect(theirs.text).not.toContain("revoked");
  });

  it("the connected apps page lists no client for these events", async () => {
    expect(await server.services.doctor.events.clientsOf((await server.services.users.findByEmail(ada.email))!.id)).toEqual([]);
    const apps = await ada.agent.get("/app/account/connected-apps");
    expect(apps.status).toBe(200);
    expect(apps.text).not.toContain("Connection attempts without a key");
  });
});

describe("the JSON API's 401s", SLOW, () => {
  it("say the doctor's words, and are not recorded (they are not a connection's steps)", async () => {
    const key = await mint({ label: "api user" });
    await api(adaAdmin).delete(`/api/api-keys/${key.id}`).expect(200);
    const res = await api(key.raw).get("/api/api-keys");
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: "invalid_token", error_description: "The key has been revoked (just now)" });
    expect(res.headers["www-authenticate"]).toContain('error_description="The key has been revoked (just now)"');
    await server.services.doctor.events.settled();
    expect(await server.services.doctor.events.ofKey(key.id)).toEqual([]);
  });
});

describe("a refused pushed authorization request (PAR)", SLOW, () => {
  let clientId: string;
  const push = (params: Record<string, string>) =>
    request(server.url)
      .post("/request")
      .type("form")
      .set("Accept", "application/json")
      .send({
        ...authorizeParams({ clientId, challenge: pkcePair().challenge, method: "S256", scope: "mcp:read", resource: mcp }),
        ...params,
      });

  beforeAll(async () => {
    clientId = (await register(server, { client_name: "PAR client" })).body.client_id as string;
    // Ada holds a key from the client: she sees its events from before a user was known.
    const { code, verifier } = await authorizeWithPkce(ada.agent, server, { clientId, scope: "mcp:read", resource: mcp });
    expect((await exchange(server, { clientId, code, verifier, resource: mcp })).status).toBe(200);
  });

  it("works when nothing is wrong", async () => {
    const res = await push({});
    expect(res.status, res.text).toBe(201);
  });

  it.each([
    [
      "an unregistered redirect URI",
      { redirect_uri: "https://attacker.example/cb" },
      "The redirect URI sent is not registered for this client (registered: http://127.0.0.1:33418/callback)",
      "Redirect URI not registered: https://attacker.example/cb (registered: http://127.0.0.1:33418/callback)",
    ],
    [
      "a resource this server does not know",
      { resource: "https://elsewhere.example/mcp" },
      "The client asked for resource https://elsewhere.example/mcp, which this server does not issue keys for",
      "The client asked for resource https://elsewhere.example/mcp, which this server does not issue keys for",
    ],
  ])("%s: 400 in the doctor's words, on the client's page and in keyward doctor --client", async (_name, params, told, recorded) => {
    const res = await push(params);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/^invalid_/);
    expect(res.body.error_description).toContain(told);
    expect(await doctorPageShowing(server, ada, clientDoctorPath(clientId), recorded)).toContain("pushed (PAR)");
    const run = await cli(["--client", clientId, "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const event = (JSON.parse(run.stdout) as { step: string; outcome: string; reason: string; detail: Record<string, unknown> }[]).find(
      (e) => e.reason.startsWith(recorded),
    );
    expect(event).toMatchObject({ step: "authorization", outcome: "failed", detail: { request: "pushed (PAR)" } });
  });
});

describe("bounds", SLOW, () => {
  it("a key of no client keeps its newest 50 events per user; another key's are untouched", async () => {
    const { events } = server.services.doctor;
    for (const keyId of ["key_boundsA", "key_boundsB"])
      for (let i = 0; i < 55; i++)
        events.record({
          clientId: null,
          userId: "usr_bounds",
          keyId,
          step: "mcp_request",
          outcome: "failed",
          reason: { kind: "key_refused", words: `refusal ${i}` },
        });
    await events.settled();
    for (const keyId of ["key_boundsA", "key_boundsB"]) {
      const kept = await server.services.db.connectionEvent.findMany({ where: { keyId }, orderBy: { id: "asc" } });
      expect(kept).toHaveLength(50); // writes run concurrently: which five went is not asserted
      expect(new Set(kept.map((e) => e.reason)).size).toBe(50);
    }
  });
});
