// Issue 22 item 7, from the attacker's side: adding someone to an organisation is an invitation they
// accept; the answer is the same whatever the email (no account enumeration), it is limited, and
// nobody becomes a member without accepting. API and pages.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { csrfFrom, mintOnPage, signUp, startTestServer, uniqueEmail, type TestServer } from "../support/server.js";
import { keyApi } from "../support/keys.js";
import { INVITATIONS_PER_HOUR } from "../../src/orgs/invitations.js";

let server: TestServer;
let alice: Awaited<ReturnType<typeof signUp>>; // owner of Acme
let bob: Awaited<ReturnType<typeof signUp>>; // has an account, not in Acme
let carol: Awaited<ReturnType<typeof signUp>>; // another account
let aliceKey: string;
let acme: string;

const api = (raw: string) => keyApi(server, raw);
const session = (p: Awaited<ReturnType<typeof signUp>>) => ({
  get: (path: string) => p.agent.get(path),
  post: (path: string, body: object = {}) => p.agent.post(path).set("X-CSRF-Token", p.csrf).send(body),
});
const memberships = (userId: string) => server.services.db.membership.count({ where: { organizationId: acme, userId } });
const userId = async (email: string) => (await server.services.db.user.findUniqueOrThrow({ where: { email } })).id;
/** The shape of an answer with the values that name the invitation itself blanked out. */
const shapeOf = (res: request.Response) => ({
  status: res.status,
  type: res.headers["content-type"],
  cache: res.headers["cache-control"],
  keys: Object.keys(res.body as object).sort(),
  body: { ...res.body, id: "·", email: "·", createdAt: "·", expiresAt: "·" },
});

beforeAll(async () => {
  server = await startTestServer();
  [alice, bob, carol] = [await signUp(server), await signUp(server), await signUp(server)];
  aliceKey = (await mintOnPage(alice.agent, alice.csrf, "alice")).raw;
  acme = (await api(aliceKey).post("/api/orgs", { name: "Acme" }).expect(201)).body.id;
});
afterAll(async () => server?.close());

describe("inviting tells nothing about accounts and adds nobody", () => {
  it("an existing account's email and an unknown one get the same 202 and body shape; no membership is made", async () => {
    const existing = await api(aliceKey).post(`/api/orgs/${acme}/members`, { email: bob.email, role: "member" });
    const unknown = await api(aliceKey).post(`/api/orgs/${acme}/members`, { email: uniqueEmail("nobody"), role: "member" });
    expect(existing.status, existing.text).toBe(202);
    expect(shapeOf(existing)).toEqual(shapeOf(unknown));
    expect(existing.text).not.toContain(await userId(bob.email));
    expect(await memberships(await userId(bob.email))).toBe(0);
    // bob is not in Acme: his key cannot act there, and the org is not among his
    const bobKey = (await mintOnPage(bob.agent, bob.csrf, "bob")).raw;
    expect((await api(bobKey).get(`/api/orgs/${acme}`)).status).toBe(404);
    // the invitation is audit-logged once, for the inviter
    const events = await server.services.audit.listForUser(await userId(alice.email));
    expect(events.filter((e) => e.action === "org.member_invited" && e.details.invitationId === existing.body.id)).toHaveLength(1);
  });

  it("the page form answers the same way for both, and never says whether an account exists", async () => {
    const page = await alice.agent.get(`/app/orgs/${acme}`).expect(200);
    const a = await alice.agent
      .post(`/app/orgs/${acme}/members`)
      .type("form")
      .send({ _csrf: csrfFrom(page.text), email: carol.email, role: "viewer" });
    const b = await alice.agent
      .post(`/app/orgs/${acme}/members`)
      .type("form")
      .send({ _csrf: csrfFrom(page.text), email: "ghost@example.com", role: "viewer" });
    expect(a.status).toBe(303);
    expect(b.status).toBe(303);
    expect(decodeURIComponent(a.headers.location!).replace(carol.email, "·")).toBe(
      decodeURIComponent(b.headers.location!).replace("ghost@example.com", "·"),
    );
    expect(await memberships(await userId(carol.email))).toBe(0);
    const after = await alice.agent.get(`/app/orgs/${acme}`).expect(200);
    expect(after.text).toContain("ghost@example.com"); // listed as pending
    expect(after.text).not.toMatch(/No account/i);
  });
});

describe("the invitee decides", () => {
  it("sees the invitation (API and page), accepts, and becomes a member with the invited role", async () => {
    const mine = (await session(bob).get("/api/invitations").expect(200)).body.data as {
      id: string;
      organizationId: string;
      role: string;
    }[];
    const inv = mine.find((i) => i.organizationId === acme)!;
    expect(inv).toMatchObject({ role: "member", organizationName: "Acme" });
    const page = await bob.agent.get("/app/orgs").expect(200);
    expect(page.text).toContain(`/app/orgs/invitations/${inv.id}/accept`);
    // carol cannot accept bob's invitation: the same 404 as a missing id, and nothing changes
    const foreign = await session(carol).post(`/api/invitations/${inv.id}/accept`);
    const missing = await session(carol).post(`/api/invitations/inv_missing/accept`);
    expect(foreign.status).toBe(404);
    expect([foreign.status, foreign.text]).toEqual([missing.status, missing.text]);
    expect(await memberships(await userId(carol.email))).toBe(0);

    const accepted = await bob.agent
      .post(`/app/orgs/invitations/${inv.id}/accept`)
      .type("form")
      .send({ _csrf: csrfFrom(page.text) });
    expect(accepted.status).toBe(303);
    expect(accepted.headers.location).toContain(`/app/orgs/${acme}`);
    const members = (await api(aliceKey).get(`/api/orgs/${acme}/members`).expect(200)).body.data as { email: string; role: string }[];
    expect(members.find((m) => m.email === bob.email)).toMatchObject({ role: "member" });
    const events = await server.services.audit.listForUser(await userId(bob.email));
    expect(events.find((e) => e.action === "org.invitation_accepted" && e.targetId === acme)).toMatchObject({ actorType: "user" });
    // used up
    expect((await session(bob).post(`/api/invitations/${inv.id}/accept`)).status).toBe(404);
  });

  it("declining leaves them out", async () => {
    const inv = ((await session(carol).get("/api/invitations").expect(200)).body.data as { id: string; organizationId: string }[]).find(
      (i) => i.organizationId === acme,
    )!;
    const declined = await session(carol).post(`/api/invitations/${inv.id}/decline`);
    expect(declined.status, declined.text).toBe(200);
    expect(await memberships(await userId(carol.email))).toBe(0);
    expect((await session(carol).post(`/api/invitations/${inv.id}/accept`)).status).toBe(404);
    const events = await server.services.audit.listForUser(await userId(carol.email));
    expect(events.some((e) => e.action === "org.invitation_declined")).toBe(true);
  });

  it("a revoked or expired invitation cannot be accepted", async () => {
    const dave = await signUp(server);
    const revoked = await api(aliceKey).post(`/api/orgs/${acme}/members`, { email: dave.email, role: "admin" }).expect(202);
    await api(aliceKey).delete(`/api/orgs/${acme}/invitations/${revoked.body.id}`).expect(200);
    expect((await session(dave).post(`/api/invitations/${revoked.body.id}/accept`)).status).toBe(404);

    const expiring = await api(aliceKey).post(`/api/orgs/${acme}/members`, { email: dave.email, role: "admin" }).expect(202);
    await server.services.db.invitation.update({ where: { id: expiring.body.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect((await session(dave).get("/api/invitations").expect(200)).body.data).toEqual([]);
    expect((await session(dave).post(`/api/invitations/${expiring.body.id}/accept`)).status).toBe(404);
    expect(await memberships(await userId(dave.email))).toBe(0);
  });

  it("an admin cannot invite an owner; nobody can be invited into a personal organisation", async () => {
    const erin = await signUp(server);
    const erinKey = (await mintOnPage(erin.agent, erin.csrf, "erin")).raw;
    const joined = await api(aliceKey).post(`/api/orgs/${acme}/members`, { email: erin.email, role: "admin" }).expect(202);
    await session(erin).post(`/api/invitations/${joined.body.id}/accept`).expect(200);
    const before = await server.services.db.invitation.count();
    const owner = await api(erinKey).post(`/api/orgs/${acme}/members`, { email: uniqueEmail("boss"), role: "owner" });
    expect(owner.status).toBe(400);
    expect(owner.body.error_description).toBe("Only an owner can invite an owner.");
    const personal = (await api(aliceKey).get("/api/orgs")).body.data[0].id as string;
    expect((await api(aliceKey).post(`/api/orgs/${personal}/members`, { email: bob.email, role: "member" })).status).toBe(400);
    expect(await server.services.db.invitation.count()).toBe(before);
  });
});

describe("invitations are limited", () => {
  it(`after ${INVITATIONS_PER_HOUR} an hour per organisation: 429, nothing stored`, async () => {
    const org = (await api(aliceKey).post("/api/orgs", { name: "Spam target" }).expect(201)).body.id as string;
    for (let i = 0; i < INVITATIONS_PER_HOUR; i++)
      await api(aliceKey)
        .post(`/api/orgs/${org}/members`, { email: uniqueEmail("probe"), role: "viewer" })
        .expect(202);
    const over = await api(aliceKey).post(`/api/orgs/${org}/members`, { email: bob.email, role: "viewer" });
    expect(over.status).toBe(429);
    expect(over.body.error).toBe("too_many_requests");
    expect(Number(over.headers["retry-after"])).toBeGreaterThan(0);
    expect(await server.services.db.invitation.count({ where: { organizationId: org } })).toBe(INVITATIONS_PER_HOUR);
  });

  it(`in parallel too: ${INVITATIONS_PER_HOUR * 2} invitations at once store at most ${INVITATIONS_PER_HOUR}`, async () => {
    const org = (await api(aliceKey).post("/api/orgs", { name: "Parallel spam target" }).expect(201)).body.id as string;
    const answers = await Promise.all(
      Array.from({ length: INVITATIONS_PER_HOUR * 2 }, () =>
        api(aliceKey).post(`/api/orgs/${org}/members`, { email: uniqueEmail("race"), role: "viewer" }),
      ),
    );
    const statuses = answers.map((a) => a.status);
    expect(
      statuses.every((st) => st === 202 || st === 429),
      statuses.join(","),
    ).toBe(true);
    expect(statuses.filter((st) => st === 202).length).toBeLessThanOrEqual(INVITATIONS_PER_HOUR);
    expect(await server.services.db.invitation.count({ where: { organizationId: org } })).toBeLessThanOrEqual(INVITATIONS_PER_HOUR);
  });
});

describe("an invitation belongs to the account that had the email when it was sent", () => {
  it("whoever signs up later with an invited address neither sees nor accepts it, and joins nothing", async () => {
    const org = (await api(aliceKey).post("/api/orgs", { name: "Takeover target" }).expect(201)).body.id as string;
    const email = uniqueEmail("notyet");
    const sent = await api(aliceKey).post(`/api/orgs/${org}/members`, { email, role: "admin" }).expect(202);
    // The attacker registers the invited address (Keyward does not verify addresses yet) and logs in.
    const attacker = await signUp(server, email);
    expect((await session(attacker).get("/api/invitations")).body.data).toEqual([]);
    const accept = await session(attacker).post(`/api/invitations/${sent.body.id}/accept`);
    expect(accept.status).toBe(404);
    expect((await session(attacker).get("/app/orgs")).text).not.toContain("Takeover target");
    expect(await server.services.db.membership.count({ where: { organizationId: org, userId: await userId(email) } })).toBe(0);
    // Invited again now that the account exists, it is that account's to accept.
    const again = await api(aliceKey).post(`/api/orgs/${org}/members`, { email, role: "member" }).expect(202);
    expect((await session(attacker).post(`/api/invitations/${again.body.id}/accept`)).status).toBe(200);
  });
});
