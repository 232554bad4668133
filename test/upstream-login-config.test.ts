// Upstream identity providers as configuration: a bad UPSTREAM_PROVIDERS stops the start with a clear
// message (never echoing a secret), and LOCAL_PASSWORDS=off leaves only the providers' buttons.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";
import { browser, csrfFrom, startTestServer, type TestServer } from "./support/server.js";
import { clientsFor, startUpstreamIdp, throughUpstream, type UpstreamIdp } from "./support/upstream-idp.js";

const good = {
  id: "corp",
  name: "Corp SSO",
  issuer: "https://sso.corp.example",
  clientId: "keyward",
  clientSecret: "very-secret-value-1234",
};

const problemOf = (env: Record<string, string>): string => {
  try {
    loadConfig({ DATABASE_URL: "file:./x.db", ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  return "";
};

describe("UPSTREAM_PROVIDERS", () => {
  it("takes a list of providers, with defaults", () => {
    const config = loadConfig({ DATABASE_URL: "file:./x.db", UPSTREAM_PROVIDERS: JSON.stringify([good]) });
    expect(config.upstreamProviders).toEqual([
      {
        ...good,
        tokenEndpointAuthMethod: "client_secret_basic",
        scopes: ["openid", "email", "profile"],
        allowedDomains: [],
        createAccounts: true,
        role: "member",
      },
    ]);
    expect(config.localPasswords).toBe(true);
    expect(loadConfig({ DATABASE_URL: "file:./x.db" }).upstreamProviders).toEqual([]);
  });

  it("refuses a bad entry, naming the field and never the secret", () => {
    const cases: [unknown, string][] = [
      ["not json", "not valid JSON"],
      [[{ ...good, issuer: "http://sso.corp.example" }], "0.issuer"],
      [[{ ...good, issuer: "https://sso.corp.example/?x=1" }], "0.issuer"],
      [[{ ...good, id: "Has Spaces" }], "0.id"],
      [[{ ...good, clientSecret: undefined }], "0.clientSecret"],
      [[{ ...good, role: "god" }], "0.role"],
      [[{ ...good, organization: "acme" }], "0.organization"],
      [[{ ...good, allowedDomains: ["not a domain"] }], "0.allowedDomains.0"],
      [[{ ...good, scopes: ["email"] }], "0.scopes"],
      [[{ ...good, clientSecrte: "typo" }], "clientSecrte"],
      [[good, { ...good, name: "Again" }], "corp is used twice"],
    ];
    for (const [value, expected] of cases) {
      const message = problemOf({ UPSTREAM_PROVIDERS: typeof value === "string" ? value : JSON.stringify(value) });
      expect(message, JSON.stringify(value)).toContain("UPSTREAM_PROVIDERS");
      expect(message, JSON.stringify(value)).toContain(expected);
      expect(message).not.toContain("very-secret-value");
    }
  });

  it("UPSTREAM_PROVIDERS_FILE is read; a missing file is named", () => {
    const file = path.join(process.env.TMPDIR ?? "/tmp", `upstreams-${process.pid}.json`);
    writeFileSync(file, JSON.stringify([good]));
    expect(loadConfig({ DATABASE_URL: "file:./x.db", UPSTREAM_PROVIDERS_FILE: file }).upstreamProviders[0]!.id).toBe("corp");
    expect(problemOf({ UPSTREAM_PROVIDERS_FILE: `${file}.missing` })).toContain("cannot read");
  });

  it("LOCAL_PASSWORDS=off needs a provider", () => {
    expect(problemOf({ LOCAL_PASSWORDS: "off" })).toContain("LOCAL_PASSWORDS=off needs at least one upstream provider");
    expect(problemOf({ LOCAL_PASSWORDS: "maybe" })).toContain("LOCAL_PASSWORDS");
  });
});

describe("LOCAL_PASSWORDS=off", () => {
  let server: TestServer;
  let idp: UpstreamIdp;
  beforeAll(async () => {
    idp = await startUpstreamIdp();
    const corp = { ...good, issuer: idp.issuer };
    server = await startTestServer({ LOCAL_PASSWORDS: "off", UPSTREAM_PROVIDERS: JSON.stringify([corp]) });
    idp.configure(clientsFor(server.url, [corp]));
  });
  afterAll(async () => {
    await server?.close();
    await idp?.close();
  });

  it("the provider is the way in: a first log-in makes the account although sign-up is closed", async () => {
    const agent = browser(server);
    const page = await agent.get("/login").expect(200);
    const started = await agent
      .post("/login/upstream/corp")
      .type("form")
      .send({ _csrf: csrfFrom(page.text) })
      .redirects(0);
    expect(started.status).toBe(303);
    idp.accounts.set("only-way-in", { email: "sso-user@corp.example", email_verified: true });
    idp.loginAs("only-way-in");
    const back = new URL(await throughUpstream(idp, started.headers.location!));
    expect((await agent.get(back.pathname + back.search).redirects(0)).status).toBe(303);
    expect((await agent.get("/app/account/api-keys").expect(200)).text).toContain("sso-user@corp.example");
    // the instance's first account, as by sign-up: its administrator (docs/operators.md)
    expect((await server.services.db.user.findUnique({ where: { email: "sso-user@corp.example" } }))?.isAdmin).toBe(true);
  });

  it("the log-in page has the provider's button and no password form; sign-up is closed", async () => {
    const page = await browser(server).get("/login").expect(200);
    expect(page.text).toContain("Continue with Corp SSO");
    expect(page.text).not.toContain('name="password"');
    expect(page.text).not.toContain('href="/signup');
    expect((await browser(server).get("/signup")).status).toBe(403);
  });

  it("a password log-in POST is refused, even with a right password", async () => {
    const user = await server.services.users.create("local@example.com", "correct horse battery");
    expect(user.id).toBeTruthy();
    const agent = browser(server);
    const page = await agent.get("/login").expect(200);
    const res = await agent
      .post("/login")
      .type("form")
      .send({ _csrf: csrfFrom(page.text), email: "local@example.com", password: "correct horse battery" })
      .redirects(0);
    expect(res.status).toBe(403);
    expect(res.text).toContain("turned off");
    expect([res.headers["set-cookie"] ?? []].flat().join()).not.toContain("kw_session=");
    const json = await agent
      .post("/login")
      .set("Accept", "application/json")
      .type("form")
      .send({ _csrf: csrfFrom(page.text), email: "local@example.com", password: "correct horse battery" });
    expect(json.status).toBe(403);
    expect(json.body.error).toBe("local_passwords_off");
  });
});
