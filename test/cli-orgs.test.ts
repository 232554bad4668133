// `keyward orgs add-member`: the operator's act, the one way to add someone without an invitation.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { mintOnPage, signUp, startTestServer, type TestServer } from "./support/server.js";
import { expectError, keyward } from "./support/cli-run.js";

describe("keyward orgs add-member", () => {
  let server: TestServer;
  let owner: Awaited<ReturnType<typeof signUp>>;
  let bob: Awaited<ReturnType<typeof signUp>>;
  let acme: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer();
    [owner, bob] = [await signUp(server), await signUp(server)];
    const key = (await mintOnPage(owner.agent, owner.csrf, "owner")).raw;
    acme = (await request(server.url).post("/api/orgs").set("Authorization", `Bearer ${key}`).send({ name: "Acme" }).expect(201)).body.id;
    env = { DATABASE_URL: server.database.url };
  });
  afterAll(async () => server?.close());

  it("adds an existing account at once, with the role, audit-logged as the CLI", async () => {
    const run = await keyward(["orgs", "add-member", acme, bob.email.toUpperCase(), "--role", "viewer", "--json"], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ email: bob.email, role: "viewer" });
    const orgs = await bob.agent.get("/api/orgs").expect(200);
    expect(orgs.body.data.find((o: { id: string }) => o.id === acme)).toMatchObject({ role: "viewer" });
    const bobId = (await server.services.db.user.findUniqueOrThrow({ where: { email: bob.email } })).id;
    const events = await server.services.audit.listForUser(bobId);
    expect(events.find((e) => e.action === "org.member_added")).toMatchObject({ actorType: "cli", targetId: acme });
  });

  it("refuses unknown accounts, organisations, roles and personal organisations", async () => {
    expectError(
      await keyward(["orgs", "add-member", acme, "nobody@example.com", "--role", "member"], { env }),
      1,
      /No account with that email/,
    );
    expectError(
      await keyward(["orgs", "add-member", "org_missing", bob.email, "--role", "member"], { env }),
      3,
      /no organisation org_missing/,
    );
    expectError(await keyward(["orgs", "add-member", acme, bob.email, "--role", "god"], { env }), 2, /--role/);
    expectError(await keyward(["orgs", "add-member", acme, bob.email, "--role", "member"], { env }), 1, /already a member/);
    const personal = (await owner.agent.get("/api/orgs").expect(200)).body.data[0].id as string;
    expectError(await keyward(["orgs", "add-member", personal, bob.email, "--role", "member"], { env }), 1, /personal organisation/);
  });
});
