// Every action only an organisation's owners and admins may take, tried by a plain member and by a
// viewer of that organisation, through the JSON API (with a full-access key acting in the
// organisation, so only the role can stop it) and through the pages (session + CSRF). Each must be
// refused (403, or the same 404 as a missing id), leave the target keys working at /mcp, and write
// nothing: no audit row, no membership, app, key or invitation change.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { mintOnPage, signUp, startTestServer, type Person, type TestServer } from "../support/server.js";
import { createOrg, joinOrg, mintIn } from "../support/orgs.js";
import { mcpStatus } from "../support/mcp-status.js";

let server: TestServer;
let alice: Person; // owner
let bob: Person; // member whose key is the target
let mallory: Person; // plain member
let victor: Person; // viewer
const keyOf = new Map<Person, string>(); // each person's full-access key acting in Acme
let acme: string;
let bobId: string;
let bobKey: { id: string; raw: string };
let app: string;
let appKey: { id: string; raw: string };
let invitation: string;

const works = (raw: string) => mcpStatus(server, raw);

/** Everything an admin-only action could change. */
const snapshot = async () => {
  const db = server.services.db;
  return {
    audit: await db.auditEvent.count(),
    memberships: await db.membership.findMany({
      where: { organizationId: acme },
      orderBy: { userId: "asc" },
      select: { userId: true, role: true },
    }),
    apps: await db.app.count({ where: { organizationId: acme } }),
    keys: await db.apiKey.findMany({ where: { organizationId: acme }, orderBy: { id: "asc" }, select: { id: true, revokedAt: true } }),
    invitations: await db.invitation.findMany({
      where: { organizationId: acme },
      orderBy: { id: "asc" },
      select: { id: true, role: true, email: true },
    }),
  };
};

beforeAll(async () => {
  server = await startTestServer();
  [alice, bob, mallory, victor] = [await signUp(server), await signUp(server), await signUp(server), await signUp(server)];
  const aliceRoot = (await mintOnPage(alice.agent, alice.csrf, "alice")).raw;
  acme = await createOrg(server, aliceRoot, "Acme");
  bobId = await joinOrg(server, aliceRoot, acme, bob, "member");
  await joinOrg(server, aliceRoot, acme, mallory, "member");
  await joinOrg(server, aliceRoot, acme, victor, "viewer");
  for (const p of [alice, bob, mallory, victor]) keyOf.set(p, await mintIn(p, acme));
  const as = (raw: string) => ({
    post: (path: string, body: object) => request(server.url).post(path).set("Authorization", `Bearer ${raw}`).send(body),
  });
  const bobMinted = await as(keyOf.get(bob)!).post("/api/api-keys", { label: "bob target" }).expect(201);
  bobKey = { id: bobMinted.body.id, raw: bobMinted.body.key };
  app = (await as(keyOf.get(alice)!).post(`/api/orgs/${acme}/apps`, { name: "bot" }).expect(201)).body.id;
  const appMinted = await as(keyOf.get(alice)!)
    .post(`/api/orgs/${acme}/apps/${app}/keys`, { label: "bot key", scopes: ["mcp:read"] })
    .expect(201);
  appKey = { id: appMinted.body.id, raw: appMinted.body.key };
  invitation = (await as(keyOf.get(alice)!).post(`/api/orgs/${acme}/members`, { email: "pending@example.com", role: "admin" }).expect(202))
    .body.id;
});
afterAll(async () => server?.close());

type Attempt = (p: Person) => Promise<request.Response>;
const viaApi =
  (method: "get" | "post" | "patch" | "delete", path: () => string, body?: () => object): Attempt =>
  (p) => {
    const req = request(server.url)
      [method](path())
      .set("Authorization", `Bearer ${keyOf.get(p)!}`);
    return body ? req.send(body()) : req;
  };
const viaPage =
  (method: "get" | "post", path: () => string, body: () => object = () => ({})): Attempt =>
  (p) =>
    method === "get"
      ? p.agent.get(path())
      : p.agent
          .post(path())
          .type("form")
          .send({ _csrf: p.csrf, confirm: "yes", ...body() });

const ACTIONS: [string, Attempt][] = [
  ["API: list members' keys", viaApi("get", () => `/api/orgs/${acme}/keys`)],
  ["API: revoke a member's key", viaApi("delete", () => `/api/orgs/${acme}/keys/${bobKey.id}`)],
  [
    "API: invite a member",
    viaApi(
      "post",
      () => `/api/orgs/${acme}/members`,
      () => ({ email: "friend@example.com", role: "admin" }),
    ),
  ],
  ["API: remove a member", viaApi("delete", () => `/api/orgs/${acme}/members/${bobId}`)],
  [
    "API: change a member's role",
    viaApi(
      "patch",
      () => `/api/orgs/${acme}/members/${bobId}`,
      () => ({ role: "viewer" }),
    ),
  ],
  ["API: list invitations", viaApi("get", () => `/api/orgs/${acme}/invitations`)],
  ["API: revoke an invitation", viaApi("delete", () => `/api/orgs/${acme}/invitations/${invitation}`)],
  ["API: list apps", viaApi("get", () => `/api/orgs/${acme}/apps`)],
  [
    "API: create an app",
    viaApi(
      "post",
      () => `/api/orgs/${acme}/apps`,
      () => ({ name: "mine" }),
    ),
  ],
  ["API: list an app's keys", viaApi("get", () => `/api/orgs/${acme}/apps/${app}/keys`)],
  [
    "API: mint an app key",
    viaApi(
      "post",
      () => `/api/orgs/${acme}/apps/${app}/keys`,
      () => ({ label: "stolen", scopes: ["mcp:read"] }),
    ),
  ],
  ["API: revoke an app key", viaApi("delete", () => `/api/orgs/${acme}/apps/${app}/keys/${appKey.id}`)],
  ["page: revoke a member's key", viaPage("post", () => `/app/orgs/${acme}/keys/${bobKey.id}/revoke`)],
  [
    "page: invite a member",
    viaPage(
      "post",
      () => `/app/orgs/${acme}/members`,
      () => ({ email: "friend@example.com", role: "admin" }),
    ),
  ],
  ["page: remove a member", viaPage("post", () => `/app/orgs/${acme}/members/${bobId}/remove`)],
  [
    "page: change a member's role",
    viaPage(
      "post",
      () => `/app/orgs/${acme}/members/${bobId}/role`,
      () => ({ role: "viewer" }),
    ),
  ],
  ["page: revoke an invitation", viaPage("post", () => `/app/orgs/${acme}/invitations/${invitation}/revoke`)],
  [
    "page: create an app",
    viaPage(
      "post",
      () => `/app/orgs/${acme}/apps`,
      () => ({ name: "mine" }),
    ),
  ],
  ["page: open an app", viaPage("get", () => `/app/orgs/${acme}/apps/${app}`)],
  [
    "page: mint an app key",
    viaPage(
      "post",
      () => `/app/orgs/${acme}/apps/${app}/keys`,
      () => ({ label: "stolen", scopes: ["mcp:read"] }),
    ),
  ],
  ["page: revoke an app key", viaPage("post", () => `/app/orgs/${acme}/apps/${app}/keys/${appKey.id}/revoke`)],
];

describe.each([
  ["a plain member", () => mallory],
  ["a viewer", () => victor],
])("as %s of the organisation", (_who, person) => {
  it.each(ACTIONS)("%s: refused, nothing written, the target keys still work", async (_name, attempt) => {
    const before = await snapshot();
    const res = await attempt(person());
    expect([403, 404], `${res.status} ${res.text.slice(0, 200)}`).toContain(res.status);
    expect(res.text).not.toContain("kw_user_");
    expect(await snapshot()).toEqual(before);
    expect(await works(bobKey.raw)).toBe(200);
    expect(await works(appKey.raw)).toBe(200);
  });

  it("cannot promote themself either (API and page)", async () => {
    const p = person();
    const selfId = (await server.services.db.user.findUniqueOrThrow({ where: { email: p.email } })).id;
    const before = await snapshot();
    expect(
      (
        await viaApi(
          "patch",
          () => `/api/orgs/${acme}/members/${selfId}`,
          () => ({ role: "owner" }),
        )(p)
      ).status,
    ).toBe(403);
    expect(
      (
        await viaPage(
          "post",
          () => `/app/orgs/${acme}/members/${selfId}/role`,
          () => ({ role: "admin" }),
        )(p)
      ).status,
    ).toBe(403);
    expect(await snapshot()).toEqual(before);
  });
});

describe("the same actions work for an admin (so the refusals above are the role's doing)", () => {
  it("an admin revokes a member's key: it stops at /mcp, one audit row", async () => {
    const before = await server.services.db.auditEvent.count();
    const res = await viaApi("delete", () => `/api/orgs/${acme}/keys/${bobKey.id}`)(alice);
    expect(res.status, res.text).toBe(200);
    expect(await works(bobKey.raw)).toBe(401);
    expect(await server.services.db.auditEvent.count()).toBe(before + 1);
  });
});
