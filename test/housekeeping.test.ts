// Housekeeping (src/housekeeping.ts): expired sessions and abandoned second-factor log-ins are
// removed from the database on a schedule, not only when someone happens to read them.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sweep } from "../src/housekeeping.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { makeUser } from "./support/test-db.js";

describe("housekeeping", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it("removes expired sessions and pending log-ins, and keeps the live ones", async () => {
    const { db } = server.services;
    const user = await makeUser(db);
    const now = new Date();
    const past = new Date(now.getTime() - 60_000);
    const future = new Date(now.getTime() + 3600_000);
    await db.session.createMany({
      data: [
        { id: `s-old-${user.id}`, userId: user.id, csrfToken: "x", expiresAt: past },
        { id: `s-live-${user.id}`, userId: user.id, csrfToken: "x", expiresAt: future },
      ],
    });
    await db.pendingLogin.createMany({
      data: [
        { id: `p-old-${user.id}`, userId: user.id, returnTo: "/", expiresAt: past },
        { id: `p-live-${user.id}`, userId: user.id, returnTo: "/", expiresAt: future },
      ],
    });

    const swept = await sweep(server.services, now);
    expect(swept.sessions).toBeGreaterThanOrEqual(1);
    expect(swept.pendingLogins).toBeGreaterThanOrEqual(1);
    expect((await db.session.findMany({ where: { userId: user.id } })).map((s) => s.id)).toEqual([`s-live-${user.id}`]);
    expect((await db.pendingLogin.findMany({ where: { userId: user.id } })).map((p) => p.id)).toEqual([`p-live-${user.id}`]);
  });

  it("removes expired device cookies, and keeps the live ones", async () => {
    const { db } = server.services;
    const user = await makeUser(db);
    const now = new Date();
    await db.deviceCookie.createMany({
      data: [
        { id: `d-old-${user.id}`, userId: user.id, expiresAt: new Date(now.getTime() - 60_000) },
        { id: `d-live-${user.id}`, userId: user.id, expiresAt: new Date(now.getTime() + 3600_000) },
      ],
    });
    const swept = await sweep(server.services, now);
    expect(swept.deviceCookies).toBeGreaterThanOrEqual(1);
    expect((await db.deviceCookie.findMany({ where: { userId: user.id } })).map((d) => d.id)).toEqual([`d-live-${user.id}`]);
  });

  it("removes expired organisation invitations, and keeps the pending ones", async () => {
    const { db } = server.services;
    const owner = await makeUser(db);
    const org = await db.organization.create({ data: { id: `org_hk${owner.id.slice(-8)}`, name: "Housekeeping" } });
    const now = new Date();
    const invite = (id: string, email: string, expiresAt: Date) => ({
      id,
      organizationId: org.id,
      email,
      role: "member",
      invitedById: owner.id,
      expiresAt,
    });
    await db.invitation.createMany({
      data: [
        invite(`inv-old-${org.id}`, "old@example.com", new Date(now.getTime() - 60_000)),
        invite(`inv-live-${org.id}`, "live@example.com", new Date(now.getTime() + 3600_000)),
      ],
    });
    const swept = await sweep(server.services, now);
    expect(swept.invitations).toBeGreaterThanOrEqual(1);
    expect((await db.invitation.findMany({ where: { organizationId: org.id } })).map((i) => i.id)).toEqual([`inv-live-${org.id}`]);
  });
});
