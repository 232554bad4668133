// `keyward admin …` (docs/operators.md): the same acts as the admin pages, from the server's shell.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintOnPage, signUp, startTestServer, type Person, type TestServer } from "./support/server.js";
import { expectError, keyward } from "./support/cli-run.js";
import { register } from "./support/oauth/flow.js";
import { mcpWhoami } from "./support/mcp-status.js";

describe("keyward admin", () => {
  let server: TestServer;
  let first: Person;
  let bob: Person;
  let env: Record<string, string>;
  beforeAll(async () => {
    server = await startTestServer();
    [first, bob] = [await signUp(server), await signUp(server)];
    env = { DATABASE_URL: server.database.url };
  }, 60_000);
  afterAll(async () => server?.close());

  it("users --json lists and searches; grant and revoke the administrator role (never the last one)", async () => {
    const all = await keyward(["admin", "users", "--json"], { env });
    expect(all.code, all.stderr).toBe(0);
    const users = JSON.parse(all.stdout) as { email: string; isAdmin: boolean }[];
    expect(users.map((u) => [u.email, u.isAdmin])).toEqual([
      [first.email, true],
      [bob.email, false],
    ]);
    const found = JSON.parse(
      (await keyward(["admin", "users", "--search", bob.email.toUpperCase(), "--json"], { env })).stdout,
    ) as unknown[];
    expect(found).toHaveLength(1);
    const table = await keyward(["admin", "users"], { env });
    expect(table.stdout).toMatch(/^ID\s+EMAIL\s+STATUS/);

    expect((await keyward(["admin", "grant", bob.email], { env })).stdout).toContain(`Administrator: ${bob.email}`);
    await bob.agent.get("/admin/users").expect(200);
    expect((await keyward(["admin", "revoke", bob.email], { env })).code).toBe(0);
    await bob.agent.get("/admin/users").expect(404);
    expectError(await keyward(["admin", "revoke", first.email], { env }), 1, /last administrator/);
    expectError(await keyward(["admin", "grant", "nobody@example.com"], { env }), 3, /no user nobody@example.com/);
    const events = await server.services.db.auditEvent.findMany({ where: { action: { in: ["admin.granted", "admin.revoked"] } } });
    expect(events.map((e) => [e.action, e.actorType])).toEqual([
      ["admin.granted", "cli"],
      ["admin.revoked", "cli"],
    ]);
  }, 120_000);

  it("disable / enable: the key fails, then works again; reset-2fa", async () => {
    const key = (await mintOnPage(bob.agent, bob.csrf, "cli test")).raw;
    expect((await mcpWhoami(server, key)).status).toBe(200);
    const disabled = await keyward(["admin", "disable", bob.email, "--json"], { env });
    expect(disabled.code, disabled.stderr).toBe(0);
    expect(JSON.parse(disabled.stdout)).toMatchObject({ email: bob.email, disabledAt: expect.any(String) });
    expect((await mcpWhoami(server, key)).status).toBe(401);
    expect((await keyward(["admin", "enable", bob.email], { env })).stdout).toContain("Enabled");
    expect((await mcpWhoami(server, key)).status).toBe(200);

    const bobId = (await server.services.users.findByEmail(bob.email))!.id;
    await server.services.db.user.update({ where: { id: bobId }, data: { totpSecret: "x", totpEnabledAt: new Date() } });
    expect((await keyward(["admin", "reset-2fa", bobId], { env })).stdout).toContain("reset");
    expect(await server.services.twoFactor.isEnabled(bobId)).toBe(false);
    expect((await keyward(["admin", "reset-2fa", bobId], { env })).stdout).toContain("had no two-factor");
  }, 120_000);

  it("clients --json, block-client, unblock-client", async () => {
    const clientId = (await register(server, { client_name: "CLI listed" })).body.client_id as string;
    const listed = JSON.parse((await keyward(["admin", "clients", "--json"], { env })).stdout) as {
      clientId: string;
      blockedAt: string | null;
    }[];
    expect(listed.find((c) => c.clientId === clientId)).toMatchObject({ blockedAt: null });
    expect((await keyward(["admin", "block-client", clientId, "--reason", "abuse"], { env })).stdout).toContain(`Blocked ${clientId}`);
    expect((await register(server, { client_name: "CLI listed" })).body).toMatchObject({ error: "invalid_client_metadata" });
    const after = JSON.parse((await keyward(["admin", "clients", "--json"], { env })).stdout) as {
      clientId: string;
      blockedAt: string | null;
    }[];
    expect(after.find((c) => c.clientId === clientId)?.blockedAt).toEqual(expect.any(String));
    expect((await keyward(["admin", "unblock-client", clientId], { env })).code).toBe(0);
    expectError(await keyward(["admin", "unblock-client", clientId], { env }), 3, /is not blocked/);
    expectError(await keyward(["admin", "block-client", "dcr_missing"], { env }), 3, /no OAuth client/);
  }, 120_000);

  it("audit --json with filters", async () => {
    const signups = JSON.parse((await keyward(["admin", "audit", "--action", "user.signed_up", "--json"], { env })).stdout) as {
      userId: string;
    }[];
    expect(signups).toHaveLength(2);
    const bobs = JSON.parse((await keyward(["admin", "audit", "--user", bob.email, "--limit", "500", "--json"], { env })).stdout) as {
      action: string;
    }[];
    expect(bobs.map((e) => e.action)).toEqual(expect.arrayContaining(["user.signed_up", "user.disabled", "user.enabled", "2fa.reset"]));
    expect(JSON.parse((await keyward(["admin", "audit", "--since", "2999-01-01", "--json"], { env })).stdout)).toEqual([]);
    expectError(await keyward(["admin", "audit", "--since", "soon"], { env }), 2, /--since/);
    expectError(await keyward(["admin", "audit", "--limit", "0"], { env }), 2, /--limit/);
  }, 120_000);
});
