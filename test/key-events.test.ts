// One revoke path, one mint path (src/keys/revoke.ts, service.ts), seen from outside: every route
// that revokes a key leaves exactly one `key.revoked` event of one shape (with `via`) and the key
// stops working at /mcp on the very next request; a mint whose audit event cannot be written leaves
// no key row behind (the key and its event are one transaction); and no code outside src/keys
// writes key rows.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { csrfFrom, mintOnPage, signUp, startTestServer, type Person, type TestServer } from "./support/server.js";
import { authorizeWithPkce, exchange, register } from "./support/oauth/flow.js";
import { keyward } from "./support/cli-run.js";
import { createOrg, joinOrg, mintIn } from "./support/orgs.js";
import { mcpStatus as mcpStatusOf } from "./support/mcp-status.js";
import { hmacSignature } from "../src/secret-scanning/signature.js";
import { hashKey } from "../src/keys/hash.js";
import type { AuditEventView } from "../src/audit/index.js";
import { sourceFiles } from "./support/source-files.js";

const SECRET = "key-events-secret-scanning-secret-0123456789";
const UA = "KeyEventsTest/1.0";
/** The details of every key.minted and key.revoked event, whatever the route. */
const SHAPE = ["appId", "clientId", "label", "last4", "organizationId", "scopes", "source", "via"];

let server: TestServer;
let alice: Person; // owner of Acme
let bob: Person; // member of Acme
let aliceKey: string; // acts in alice's personal organisation
let aliceInAcme: string; // acts in Acme (a key administers only its own organisation)
let acme: string;

const bearer = (raw: string) => ({ Authorization: `Bearer ${raw}`, "User-Agent": UA });
const userId = async (p: Person) => (await server.services.users.findByEmail(p.email))!.id;
const idOf = async (raw: string) => {
  const v = await server.services.keys.verify(raw);
  if (!v.ok) throw new Error(`key does not verify: ${v.reason}`);
  return v.key.id;
};
/** What an attacker holding the key sees at /mcp (tools/call). */
const mcpStatus = (raw: string) => mcpStatusOf(server, raw);

/** A key minted by OAuth for `person` (consent in their browser, code exchanged by the client). */
async function oauthKey(person: Person, clientName: string) {
  const reg = await register(server, { client_name: clientName });
  const clientId = reg.body.client_id as string;
  const { code, verifier } = await authorizeWithPkce(person.agent, server, { clientId, scope: "mcp:read" });
  const token = await exchange(server, { clientId, code, verifier });
  expect(token.status, token.text).toBe(200);
  return {
    raw: token.body.access_token as string,
    clientId,
    code,
    verifier,
    registrationToken: reg.body.registration_access_token as string,
  };
}

interface Revoked {
  raw: string;
  owner: Person;
  /** Revokes it again the same way (idempotent: no second event), where the route allows it. */
  again?: () => Promise<unknown>;
}

/** Every route that revokes keys: mint a key, revoke it through the route. */
const ROUTES: [via: string, actorType: string, run: () => Promise<Revoked>][] = [
  [
    "page",
    "user",
    async () => {
      const { raw } = await mintOnPage(alice.agent, alice.csrf, "page key");
      const revoke = () =>
        alice.agent
          .post(`/app/account/api-keys/${keyId}/revoke`)
          .set("User-Agent", UA)
          .type("form")
          .send({ _csrf: alice.csrf })
          .expect(303);
      const keyId = await idOf(raw);
      await revoke();
      return { raw, owner: alice, again: revoke };
    },
  ],
  [
    "api",
    "api_key",
    async () => {
      const created = await request(server.url)
        .post("/api/api-keys")
        .set(bearer(aliceKey))
        .send({ label: "api key", scopes: ["mcp:read"] })
        .expect(201);
      const revoke = () => request(server.url).delete(`/api/api-keys/${created.body.id}`).set(bearer(aliceKey)).expect(200);
      await revoke();
      return { raw: created.body.key, owner: alice, again: revoke };
    },
  ],
  [
    "cli",
    "cli",
    async () => {
      const created = await request(server.url).post("/api/api-keys").set(bearer(aliceKey)).send({ label: "cli key" }).expect(201);
      const revoke = async () => {
        const run = await keyward(["api-keys", "revoke", created.body.id, "--user", alice.email], {
          env: { DATABASE_URL: server.database.url },
        });
        expect(run.code, run.stderr).toBe(0);
      };
      await revoke();
      return { raw: created.body.key, owner: alice, again: revoke };
    },
  ],
  [
    "org_member_keys",
    "org_admin",
    async () => {
      const raw = await mintIn(bob, acme, "bob in acme");
      const keyId = await idOf(raw);
      const revoke = () => request(server.url).delete(`/api/orgs/${acme}/keys/${keyId}`).set(bearer(aliceInAcme)).expect(200);
      await revoke();
      return { raw, owner: bob, again: revoke };
    },
  ],
  [
    "org_app_keys",
    "org_admin",
    async () => {
      const app = (
        await request(server.url)
          .post(`/api/orgs/${acme}/apps`)
          .set(bearer(aliceInAcme))
          .send({ name: `bot ${Date.now()}` })
          .expect(201)
      ).body.id as string;
      const minted = await request(server.url)
        .post(`/api/orgs/${acme}/apps/${app}/keys`)
        .set(bearer(aliceInAcme))
        .send({ label: "app key", scopes: ["mcp:read"] })
        .expect(201);
      const raw = minted.body.key as string;
      const revoke = () =>
        request(server.url).delete(`/api/orgs/${acme}/apps/${app}/keys/${minted.body.id}`).set(bearer(aliceInAcme)).expect(200);
      await revoke();
      return { raw, owner: alice, again: revoke };
    },
  ],
  [
    "oauth_revocation",
    "oauth_client",
    async () => {
      const k = await oauthKey(alice, "RFC 7009 client");
      const revoke = () =>
        request(server.url)
          .post("/token/revocation")
          .set("User-Agent", UA)
          .type("form")
          .send({ token: k.raw, client_id: k.clientId })
          .expect(200);
      await revoke();
      return { raw: k.raw, owner: alice, again: revoke };
    },
  ],
  [
    "oauth_grant_revoked",
    "oauth_client",
    async () => {
      // An authorization code used twice: oidc-provider revokes the grant, and every key issued under it.
      const k = await oauthKey(alice, "Code replay client");
      const replay = await exchange(server, { clientId: k.clientId, code: k.code, verifier: k.verifier });
      expect(replay.status).toBe(400);
      return { raw: k.raw, owner: alice };
    },
  ],
  [
    "oauth_client_deleted",
    "oauth_client",
    async () => {
      const k = await oauthKey(alice, "Short-lived client");
      await request(server.url)
        .delete(`/reg/${k.clientId}`)
        .set("Authorization", `Bearer ${k.registrationToken}`)
        .set("User-Agent", UA)
        .expect(204);
      return { raw: k.raw, owner: alice };
    },
  ],
  [
    "connected_apps",
    "user",
    async () => {
      const k = await oauthKey(alice, "Disconnected client");
      const page = await alice.agent.get("/app/account/connected-apps").expect(200);
      await alice.agent
        .post(`/app/account/connected-apps/${encodeURIComponent(k.clientId)}/disconnect`)
        .set("User-Agent", UA)
        .type("form")
        .send({ _csrf: csrfFrom(page.text), confirm: "yes" })
        .expect(303);
      return { raw: k.raw, owner: alice };
    },
  ],
  [
    "secret_scanning",
    "secret_scanning",
    async () => {
      const { raw } = await mintOnPage(alice.agent, alice.csrf, "leaked key");
      const body = JSON.stringify([{ token: raw, type: "keyward_api_key", url: "https://example.com/leak", source: "content" }]);
      const report = () =>
        request(server.url)
          .post("/api/secret-scanning/report")
          .set("Content-Type", "application/json")
          .set("User-Agent", UA)
          .set("X-Keyward-Signature", hmacSignature(SECRET, Buffer.from(body)))
          .send(body)
          .expect(200);
      await report();
      return { raw, owner: alice, again: report };
    },
  ],
];

beforeAll(async () => {
  server = await startTestServer({ SECRET_SCANNING_SECRET: SECRET });
  [alice, bob] = [await signUp(server), await signUp(server)];
  aliceKey = (await mintOnPage(alice.agent, alice.csrf, "alice admin")).raw;
  acme = await createOrg(server, aliceKey, "Acme");
  await joinOrg(server, aliceKey, acme, bob, "member");
  aliceInAcme = await mintIn(alice, acme, "alice in acme");
});
afterAll(async () => server?.close());

describe("every revoke route", () => {
  it.each(ROUTES)(
    "%s: the key stops working, and one key.revoked event of the one shape is recorded (actor %s)",
    async (via, actorType, run) => {
      const { raw, owner, again } = await run();
      expect(await mcpStatus(raw)).toBe(401);
      const keyId = (await server.services.db.apiKey.findUnique({ where: { hash: hashKey(raw) } }))!.id;
      const events = (await server.services.audit.listForUser(await userId(owner), { limit: 500 })).filter((e) => e.targetId === keyId);
      const of = (action: string): AuditEventView[] => events.filter((e) => e.action === action);

      expect(of("key.revoked"), JSON.stringify(events)).toHaveLength(1);
      const revoked = of("key.revoked")[0]!;
      expect(revoked.actorType).toBe(actorType);
      const extra = via === "secret_scanning" ? ["reason", "type", "url"] : [];
      expect(Object.keys(revoked.details).sort()).toEqual([...SHAPE, ...extra].sort());
      expect(revoked.details.via).toBe(via);
      expect(JSON.stringify(revoked)).not.toContain(raw);

      // Its key.minted event has the same shape, and the same facts about the key.
      expect(of("key.minted")).toHaveLength(1);
      const minted = of("key.minted")[0]!;
      expect(Object.keys(minted.details).sort()).toEqual(SHAPE);
      for (const fact of ["label", "last4", "source", "scopes", "clientId", "organizationId", "appId"])
        expect(revoked.details[fact], fact).toEqual(minted.details[fact]);

      // Revoking again changes nothing and records no second key.revoked.
      if (again) {
        await again();
        const after = (await server.services.audit.listForUser(await userId(owner), { limit: 500 })).filter(
          (e) => e.targetId === keyId && e.action === "key.revoked",
        );
        expect(after).toHaveLength(1);
      }
    },
  );
});

describe("a mint whose audit event cannot be written", () => {
  const TRIGGER = "key_events_test_audit_down";
  const postgres = () => server.database.url.startsWith("postgres");

  /** Every key.minted insert fails, as a full disk or a lost connection at that moment would. */
  async function breakAudit() {
    const db = server.services.db;
    if (postgres()) {
      await db.$executeRawUnsafe(
        `CREATE FUNCTION ${TRIGGER}() RETURNS trigger AS $$ BEGIN IF NEW.action = 'key.minted' THEN RAISE EXCEPTION 'audit write failed'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`,
      );
      await db.$executeRawUnsafe(`CREATE TRIGGER ${TRIGGER} BEFORE INSERT ON "AuditEvent" FOR EACH ROW EXECUTE FUNCTION ${TRIGGER}()`);
    } else {
      await db.$executeRawUnsafe(
        `CREATE TRIGGER ${TRIGGER} BEFORE INSERT ON "AuditEvent" WHEN NEW.action = 'key.minted' BEGIN SELECT RAISE(ABORT, 'audit write failed'); END`,
      );
    }
  }
  async function repairAudit() {
    const db = server.services.db;
    await db.$executeRawUnsafe(`DROP TRIGGER IF EXISTS ${TRIGGER}${postgres() ? ` ON "AuditEvent"` : ""}`);
    if (postgres()) await db.$executeRawUnsafe(`DROP FUNCTION IF EXISTS ${TRIGGER}()`);
  }

  it("leaves no key row, on the page, the JSON API, the CLI, app keys and the token endpoint", async () => {
    const carol = await signUp(server);
    const carolId = await userId(carol);
    const carolKey = (await mintOnPage(carol.agent, carol.csrf, "carol admin")).raw;
    const org = await createOrg(server, carolKey, "Carol's");
    const carolInOrg = await mintIn(carol, org, "carol in her org");
    const app = (await request(server.url).post(`/api/orgs/${org}/apps`).set(bearer(carolInOrg)).send({ name: "carol bot" }).expect(201))
      .body.id as string;
    // An OAuth client with the user's consent and a fresh code, ready to exchange.
    const reg = await register(server, { client_name: "Half-mint client" });
    const { code, verifier } = await authorizeWithPkce(carol.agent, server, {
      clientId: reg.body.client_id,
      scope: "mcp:read",
    });
    const rows = () => server.services.db.apiKey.count({ where: { userId: carolId } });
    const before = await rows();

    await breakAudit();
    try {
      const page = await carol.agent.post("/app/account/api-keys").type("form").send({ _csrf: carol.csrf, label: "half page" });
      expect(page.status).toBe(500);
      expect(page.text).not.toContain('id="new-key"');
      const api = await request(server.url).post("/api/api-keys").set(bearer(carolKey)).send({ label: "half api" });
      expect(api.status).toBe(500);
      expect(api.text).not.toMatch(/audit write failed|at .*\.ts/);
      const appKey = await request(server.url)
        .post(`/api/orgs/${org}/apps/${app}/keys`)
        .set(bearer(carolInOrg))
        .send({ label: "half app", scopes: ["mcp:read"] });
      expect(appKey.status).toBe(500);
      const token = await exchange(server, { clientId: reg.body.client_id, code, verifier });
      expect(token.status).toBeGreaterThanOrEqual(500);
      expect(token.body.access_token).toBeUndefined();
      const cli = await keyward(["api-keys", "create", "half cli", "--user", carol.email], { env: { DATABASE_URL: server.database.url } });
      expect(cli.code).not.toBe(0);
      expect(cli.stdout).toBe("");
    } finally {
      await repairAudit();
    }

    expect(await rows()).toBe(before);
    const events = await server.services.audit.listForUser(carolId, { limit: 500 });
    expect(events.filter((e) => e.action === "key.minted" && /^half/.test(String(e.details.label)))).toHaveLength(0);
    // With the audit trail back, minting works again (nothing was left half-done).
    await request(server.url).post("/api/api-keys").set(bearer(carolKey)).send({ label: "whole" }).expect(201);
    expect(await rows()).toBe(before + 1);
  });
});

describe("src/keys is the only code that writes key rows", () => {
  it("no file outside src/keys creates, updates or deletes ApiKey rows", () => {
    const offenders = sourceFiles(["src/keys"])
      .filter(({ text }) =>
        /apiKey\.(create|createMany|update|updateMany|upsert|delete|deleteMany)\(|(UPDATE|INSERT INTO|DELETE FROM)\s+"ApiKey"/.test(text),
      )
      .map(({ file }) => file);
    expect(offenders).toEqual([]);
  });
});
