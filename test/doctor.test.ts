// The connection doctor (issue 26 item 1, docs/connection-doctor.md): each kind of failed connection,
// made on purpose from the outside, is shown with its exact reason on the client's doctor page, by
// `keyward doctor` and in the error_description the client got; nobody sees another user's events.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { startTestServer, signUp, type Person, type TestServer } from "./support/server.js";
import { authorize, authorizeUrl, authorizeWithPkce, exchange, pkcePair, register } from "./support/oauth/flow.js";
import { BY_OPERATOR } from "./support/acting.js";
import { clientDoctorPath, doctorPageShowing, keyDoctorPath } from "./support/doctor.js";
import { mcpToolCall } from "./support/mcp-status.js";
import { unescapeHtml } from "./support/test-db.js";

const BY_CLI = { actor: { type: "cli" as const } };
import { keyward } from "./support/cli-run.js";

let server: TestServer;
let ada: Person;
let eve: Person;
let clientId: string;
let notes: string;
let mcp: string;

const doctorPage = (who: Person, client = clientId) => who.agent.get(clientDoctorPath(client));

/** The client's doctor page, decoded, once the event's (background) write is done. */
const pageShowing = (who: Person, text: string, client = clientId) => doctorPageShowing(server, who, clientDoctorPath(client), text);

const call = (key: string, path?: string, tool?: string) => mcpToolCall(server, key, path, tool);

/** A key through the whole OAuth flow, as Ada. */
async function connect(p: { scope?: string; resource?: string } = {}): Promise<string> {
  const { code, verifier } = await authorizeWithPkce(ada.agent, server, {
    clientId,
    scope: p.scope ?? "mcp:read mcp:write",
    resource: p.resource,
  });
  const token = await exchange(server, { clientId, code, verifier, resource: p.resource });
  expect(token.status).toBe(200);
  return token.body.access_token as string;
}

beforeAll(async () => {
  server = await startTestServer();
  clientId = (await register(server, { client_name: "Doctor test client" })).body.client_id;
  ada = await signUp(server);
  eve = await signUp(server);
  mcp = `${server.url}/mcp`;
  notes = (await server.services.resources.add({ slug: "notes", name: "Notes", upstream: "http://127.0.0.1:4660/mcp" }, BY_CLI)).url;
});
afterAll(async () => server?.close());

describe("each failure, on purpose, with its reason", () => {
  it("a successful connection shows registration, authorization, consent, code exchange and the first MCP request", async () => {
    const key = await connect({ resource: mcp });
    expect((await call(key)).status).toBe(200);
    expect((await call(key)).status).toBe(200); // a second success is not recorded
    await server.services.doctor.events.settled();
    const events = await server.services.doctor.events.ofClient(clientId);
    expect(events.map((e) => `${e.step} ${e.outcome}`).reverse()).toEqual([
      "registration ok",
      "consent ok",
      "authorization ok",
      "token ok",
      "mcp_request ok",
    ]);
    const page = await pageShowing(ada, "Code exchange");
    expect(page).toContain("MCP request");
    expect(page).toContain("Registration");
  });

  it("discovery: the 401 challenge and the metadata documents a host fetched before registering are its first step", async () => {
    const UA = "DoctorHost/1.0 (discovery test)";
    const host = (r: request.Test) => r.set("User-Agent", UA);
    expect((await host(request(server.url).post("/mcp")).send({})).status).toBe(401);
    expect((await host(request(server.url).get("/.well-known/oauth-protected-resource/mcp"))).status).toBe(200);
    expect((await host(request(server.url).get("/.well-known/oauth-authorization-server"))).status).toBe(200);
    expect((await request(server.url).get("/.well-known/openid-configuration").set("User-Agent", "someone else")).status).toBe(200);
    const registered = await host(request(server.url).post("/reg")).send({
      client_name: "Discovering host",
      redirect_uris: ["http://127.0.0.1:33418/callback"],
      token_endpoint_auth_method: "none",
    });
    expect(registered.status).toBe(201);
    const hostId = registered.body.client_id as string;
    await server.services.doctor.events.settled();
    const events = (await server.services.doctor.events.ofClient(hostId)).reverse();
    expect(events.map((e) => `${e.step} ${e.outcome}`)).toEqual(["discovery ok", "registration ok"]);
    expect(events[0]!.detail.documents).toEqual([
      "POST /mcp → 401",
      "GET /.well-known/oauth-protected-resource/mcp → 200",
      "GET /.well-known/oauth-authorization-server → 200",
    ]); // not another caller's, and taken once: a second registration from the same host starts afresh
    const again = await host(request(server.url).post("/reg")).send({
      client_name: "Again",
      redirect_uris: ["http://127.0.0.1:33418/callback"],
    });
    await server.services.doctor.events.settled();
    expect((await server.services.doctor.events.ofClient(again.body.client_id as string)).map((e) => e.step)).toEqual(["registration"]);
  });

  it("wrong resource: the client asked for one resource and calls another", async () => {
    const key = await connect({ resource: notes });
    const res = await call(key, "/mcp");
    expect(res.status).toBe(401);
    const words = `The key was issued for another resource: the client asked for resource ${notes} but is calling ${mcp}`;
    expect(res.body.error_description).toBe(words);
    expect(res.headers["www-authenticate"]).toContain(`error_description="${words}"`);
    await pageShowing(ada, words);
  });

  it("no resource parameter: the key is for /mcp, and the client calls a gateway resource", async () => {
    const key = await connect({});
    await pageShowing(ada, `The client sent no resource parameter: its key is for ${mcp} only`);
    const res = await call(key, "/mcp/notes");
    expect(res.status).toBe(401);
    const words = `The key was issued for another resource: the client sent no resource parameter, so its key is for ${mcp}, but it is calling ${notes}`;
    expect(res.body.error_description).toBe(words);
    await pageShowing(ada, words);
  });

  it("a code_verifier that does not match", async () => {
    const { code } = await authorizeWithPkce(ada.agent, server, { clientId, scope: "mcp:read", resource: mcp });
    const res = await exchange(server, { clientId, code, verifier: pkcePair().verifier }); // another pair's verifier
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: "invalid_grant",
      error_description: "code_verifier did not match the code_challenge of the authorization request",
    });
    const page = await pageShowing(ada, "code_verifier did not match the code_challenge of the authorization request");
    expect(page).not.toContain(code); // never a secret
  });

  it("a redirect URI the client never registered", async () => {
    const { challenge } = pkcePair();
    const res = await ada.agent
      .get(authorizeUrl({ clientId, challenge, method: "S256", redirectUri: "https://attacker.example/cb", resource: mcp }))
      .redirects(0);
    expect(res.status).toBe(400);
    // the error page says so without showing the address asked for (anyone can put one in a link) ...
    expect(unescapeHtml(res.text)).toContain(
      "The redirect URI sent is not registered for this client (registered: http://127.0.0.1:33418/callback)",
    );
    expect(res.text).not.toContain("attacker.example");
    // ... the doctor's record, for the user and the operator, names it
    await pageShowing(ada, "Redirect URI not registered: https://attacker.example/cb (registered: http://127.0.0.1:33418/callback)");
  });

  it("a resource this server does not know", async () => {
    const { challenge } = pkcePair();
    const back = await authorize(ada.agent, server, { clientId, challenge, method: "S256", resource: "https://elsewhere.example/mcp" });
    expect(back.searchParams.get("error")).toBe("invalid_target");
    const words = back.searchParams.get("error_description")!;
    expect(words).toMatch(/^The client asked for resource https:\/\/elsewhere.example\/mcp, which this server does not issue keys for/);
    await pageShowing(ada, words);
  });

  it("a revoked key, and when it was revoked", async () => {
    const key = await connect({ resource: mcp });
    const found = await server.services.keys.verify(key);
    if (!found.ok) throw new Error("the key should work");
    await server.services.keys.revoke({ kind: "own", userId: found.user.id, id: found.key.id }, BY_OPERATOR);
    const res = await call(key);
    expect(res.status).toBe(401);
    expect(res.body.error_description).toBe("The key has been revoked (just now)");
    await pageShowing(ada, "The key has been revoked (just now)");
    // The key's own doctor page, linked from its row.
    const keysPage = await ada.agent.get("/app/account/api-keys");
    expect(keysPage.text).toContain(keyDoctorPath(found.key.id));
    const keyPage = await ada.agent.get(keyDoctorPath(found.key.id));
    expect(keyPage.status).toBe(200);
    expect(keyPage.text).toContain("The key has been revoked (just now)");
    const cli = await keyward(["doctor", "--key", found.key.id, "--json"], { env: { DATABASE_URL: server.database.url } });
    expect(cli.code).toBe(0);
    expect((JSON.parse(cli.stdout) as { reason: string }[])[0]!.reason).toBe("The key has been revoked (just now)");
  });

  it("a key that lacks the scope a tool needs", async () => {
    const key = await connect({ scope: "mcp:read", resource: mcp });
    const res = await call(key, "/mcp", "notes_add");
    expect(res.status).toBe(403);
    const words = "This key lacks the mcp:write scope (needed for notes_add)";
    expect(res.body.error_description).toBe(words);
    expect(res.headers["www-authenticate"]).toContain(`error_description="${words}"`);
    await pageShowing(ada, words);
  });

  it("the user denied the request", async () => {
    const bob = await signUp(server);
    const { challenge } = pkcePair();
    const back = await authorize(bob.agent, server, { clientId, challenge, method: "S256", scope: "mcp:read", resource: mcp }, "Deny");
    expect(back.searchParams.get("error")).toBe("access_denied");
    await pageShowing(bob, "The user denied the authorization request");
  });
});

describe("who sees what", () => {
  it("the connected apps page links each app's doctor", async () => {
    const page = await ada.agent.get("/app/account/connected-apps");
    expect(page.text).toContain(clientDoctorPath(clientId));
  });

  it("another user gets the same 404 as for a client that does not exist, and never sees Ada's events", async () => {
    const theirs = await doctorPage(eve);
    const missing = await doctorPage(eve, "dcr_doesnotexist");
    expect(theirs.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(theirs.text).toBe(missing.text);
    const adaKey = (await server.services.doctor.events.ofClient(clientId)).find((e) => e.keyId)!.keyId!;
    const keyPage = await eve.agent.get(keyDoctorPath(adaKey));
    expect(keyPage.status).toBe(404);
    expect(keyPage.text).toBe((await eve.agent.get(keyDoctorPath("key_doesnotexist"))).text);
  });

  it("a user whose own connection failed sees it, but not the client's registration nor other users' events", async () => {
    const { code } = await authorizeWithPkce(eve.agent, server, { clientId, scope: "mcp:read", resource: mcp });
    await exchange(server, { clientId, code, verifier: "x".repeat(43) });
    const page = await pageShowing(eve, "code_verifier did not match");
    expect(page).not.toContain("Registration");
    expect(page).not.toContain("The key has been revoked");
    const apps = await eve.agent.get("/app/account/connected-apps");
    expect(apps.text).toContain(clientDoctorPath(clientId)); // an attempt without a key
  });
});

describe("keyward doctor --client", () => {
  it("lists the client's events with their reasons, every user's", async () => {
    const json = await keyward(["doctor", "--client", clientId, "--json", "--limit", "50"], { env: { DATABASE_URL: server.database.url } });
    expect(json.code).toBe(0);
    const reasons = (JSON.parse(json.stdout) as { reason: string }[]).map((e) => e.reason);
    expect(reasons).toContain("This key lacks the mcp:write scope (needed for notes_add)");
    expect(reasons).toContain("code_verifier did not match the code_challenge of the authorization request");
    const table = await keyward(["doctor", "--client", clientId], { env: { DATABASE_URL: server.database.url } });
    expect(table.code).toBe(0);
    expect(table.stdout).toContain("Redirect URI not registered: https://attacker.example/cb");
  });

  it("needs exactly one of --client and --key", async () => {
    const run = await keyward(["doctor"], { env: { DATABASE_URL: server.database.url } });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("give --client <id> or --key <id>");
  });
});

describe("bounds", () => {
  // Last in this file: the sweep, two weeks ahead, ends the sessions too.
  it("keeps the newest 50 events per client and user, writes a repeat within a minute once, and housekeeping drops old ones", async () => {
    const { events } = server.services.doctor;
    const client = "dcr_bounds";
    for (let i = 0; i < 60; i++)
      events.record({
        clientId: client,
        userId: "usr_x",
        step: "authorization",
        outcome: "failed",
        reason: { kind: "oauth_error", error: "invalid_request", description: `attempt ${i}` },
      });
    events.record({
      clientId: client,
      userId: "usr_x",
      step: "authorization",
      outcome: "failed",
      reason: { kind: "oauth_error", error: "invalid_request", description: "attempt 59" },
    });
    await events.settled();
    const kept = await server.services.db.connectionEvent.findMany({ where: { clientId: client }, orderBy: { id: "asc" } });
    expect(kept).toHaveLength(50);
    expect(new Set(kept.map((e) => e.reason)).size).toBe(50); // the repeat was not written twice
    const { sweep } = await import("../src/housekeeping.js");
    const swept = await sweep(server.services, new Date(Date.now() + 15 * 86_400_000));
    expect(swept.connectionEvents).toBeGreaterThanOrEqual(50);
    expect(await server.services.db.connectionEvent.count({ where: { clientId: client } })).toBe(0);
  });
});
