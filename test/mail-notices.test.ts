// Notices by mail against a real SMTP server: a log-in from a browser the account had not seen, keys
// revoked by someone other than their owner (secret scanning, the operator's CLI), and keys that expire
// within 7 days (once per key, from housekeeping).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { browser, csrfFrom, mintOnPage, signUp, startTestServer, type TestServer } from "./support/server.js";
import { startSmtp, type TestSmtp } from "./support/smtp.js";
import { passwordStep } from "./support/security.js";
import { until } from "./support/waiting.js";
import { hmacSignature } from "../src/secret-scanning/signature.js";
import { createOrg, joinOrg, mintIn } from "./support/orgs.js";
import { sweep } from "../src/housekeeping.js";

const NEW_LOGIN = "New log-in to your Keyward account";
const REVOKED = "One of your Keyward API keys was revoked";
const EXPIRING = "A Keyward API key expires within 7 days";
const SECRET = "a-secret-scanning-secret-of-enough-length";

let smtp: TestSmtp;
let server: TestServer;
beforeAll(async () => {
  smtp = await startSmtp();
  server = await startTestServer({ SMTP_URL: smtp.url, MAIL_FROM: "keyward@example.com", SECRET_SCANNING_SECRET: SECRET });
});
afterAll(async () => {
  await server?.close();
  await smtp?.close();
});

const settled = () => server.services.mailer.idle();

describe("a log-in from a new device", () => {
  it("is mailed, but not the first log-in after sign-up nor a browser the account knows", async () => {
    const user = await signUp(server); // the first log-in ever
    await settled();
    expect(smtp.to(user.email, NEW_LOGIN)).toHaveLength(0);

    const known = await user.agent.get("/app/account/api-keys").expect(200);
    await user.agent
      .post("/logout")
      .type("form")
      .send({ _csrf: csrfFrom(known.text) })
      .expect(303);
    await passwordStep(server, user.email, user.password, undefined, user.agent).then((r) => expect(r.res.status).toBe(303));
    await settled();
    expect(smtp.to(user.email, NEW_LOGIN)).toHaveLength(0); // the same browser: its device cookie

    const other = await passwordStep(
      server,
      user.email,
      user.password,
      undefined,
      browser(server).set(
        "User-Agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
      ),
    );
    expect(other.res.status).toBe(303);
    const [mail] = await smtp.waitFor(user.email, { subject: NEW_LOGIN });
    expect(mail!.text).toContain("Chrome on Linux");
    expect(mail!.text).toContain(`${server.url}/app/account/security`);
  });
});

describe("keys revoked by someone else", () => {
  it("mails the owner when secret scanning revokes a key, not when the owner revokes one", async () => {
    const user = await signUp(server);
    const { raw } = await mintOnPage(user.agent, user.csrf, "leaky <b>laptop</b>");
    const body = JSON.stringify([{ token: raw, type: "keyward_api_key", url: "https://example.com/x", source: "content" }]);
    await request(server.url)
      .post("/api/secret-scanning/report")
      .set("Content-Type", "application/json")
      .set("X-Keyward-Signature", hmacSignature(SECRET, Buffer.from(body)))
      .send(body)
      .expect(200);
    const [mail] = await smtp.waitFor(user.email, { subject: REVOKED });
    expect(mail!.text).toContain("secret scanning");
    expect(mail!.text).toContain('"leaky <b>laptop</b>"');
    expect(mail!.html).toContain("leaky &lt;b&gt;laptop&lt;/b&gt;");
    expect(mail!.text).not.toContain(raw);

    const own = await mintOnPage(user.agent, user.csrf, "mine");
    const id = (await server.services.db.apiKey.findFirst({ where: { label: "mine", user: { email: user.email } } }))!.id;
    const res = await user.agent.delete(`/api/api-keys/${id}`).set("X-CSRF-Token", user.csrf);
    expect(res.status).toBe(200);
    expect((await request(server.url).post("/mcp").set("Authorization", `Bearer ${own.raw}`)).status).toBe(401);
    await settled();
    expect(smtp.to(user.email, REVOKED)).toHaveLength(1);
  });

  it("mails a member when an organisation admin revokes their key, not the admin for their own", async () => {
    const alice = await signUp(server);
    const bob = await signUp(server);
    const { raw: aliceKey } = await mintOnPage(alice.agent, alice.csrf, "alice admin");
    const orgId = await createOrg(server, aliceKey, "Notice Org");
    await joinOrg(server, aliceKey, orgId, bob, "member");
    await mintIn(bob, orgId, "bob in org");
    const adminKey = await mintIn(alice, orgId, "alice in org");
    const keyOf = async (label: string) => (await server.services.db.apiKey.findFirst({ where: { label, organizationId: orgId } }))!.id;
    for (const label of ["bob in org", "alice in org"])
      await request(server.url)
        .delete(`/api/orgs/${orgId}/keys/${await keyOf(label)}`)
        .set("Authorization", `Bearer ${adminKey}`)
        .expect(200);
    const [mail] = await smtp.waitFor(bob.email, { subject: REVOKED });
    expect(mail!.text).toContain("by an administrator of your organisation");
    expect(mail!.text).toContain('"bob in org"');
    await settled();
    expect(smtp.to(alice.email, REVOKED)).toHaveLength(0);
  });

  it("mails the owner when the operator revokes through the server's one revoke path (keyward api-keys revoke)", async () => {
    const user = await signUp(server);
    await mintOnPage(user.agent, user.csrf, "ops");
    const key = (await server.services.db.apiKey.findFirst({ where: { label: "ops", user: { email: user.email } } }))!;
    await server.services.keys.revoke({ kind: "own", userId: key.userId, id: key.id }, { actor: { type: "cli", id: null }, via: "cli" });
    const [mail] = await smtp.waitFor(user.email, { subject: REVOKED });
    expect(mail!.text).toContain("operator");
  });
});

describe("removing an MCP server", () => {
  it("mails the owners of the keys bound to it", async () => {
    const user = await signUp(server);
    await mintOnPage(user.agent, user.csrf, "bound");
    const resource = await server.services.resources.add(
      { slug: "mailnotice", name: "Mail notice", upstream: "http://127.0.0.1:9/mcp" },
      { actor: { type: "cli" } },
    );
    const key = (await server.services.db.apiKey.findFirst({ where: { label: "bound", user: { email: user.email } } }))!;
    await server.services.db.apiKey.update({ where: { id: key.id }, data: { resource: resource.url } });
    await server.services.resources.remove("mailnotice", { actor: { type: "cli" } });
    const [mail] = await smtp.waitFor(user.email, { subject: REVOKED });
    expect(mail!.text).toContain("because the MCP server it was for was removed");
  });
});

describe("the mailer", () => {
  /** A mailer of its own, logging at `level` into `lines`. */
  async function loggedMailer(smtpUrl: string | undefined, level: "debug" | "info", retryDelaysMs?: number[]) {
    const { createMailer } = await import("../src/mail/mailer.js");
    const { createLogger } = await import("../src/log.js");
    const { Writable } = await import("node:stream");
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const mailer = createMailer({ smtpUrl, from: "keyward@example.com" }, createLogger(level, sink), { retryDelaysMs });
    return { mailer, lines };
  }

  it("hands over the mails still on their way before it closes (shutdown, the end of a CLI command)", async () => {
    const { createMailer } = await import("../src/mail/mailer.js");
    const { createLogger } = await import("../src/log.js");
    const mailer = createMailer({ smtpUrl: smtp.url, from: "keyward@example.com" }, createLogger("silent"));
    mailer.send({ to: "closing@example.com", subject: "sent while closing", text: "hello", html: "<p>hello</p>" });
    await mailer.close();
    expect(smtp.to("closing@example.com", "sent while closing")).toHaveLength(1);
  });

  describe("a failed send", () => {
    let own: TestSmtp;
    beforeAll(async () => {
      own = await startSmtp();
    });
    afterAll(async () => {
      await own?.close();
    });
    const mailerLogging = (retryDelaysMs: number[], smtpUrl?: string) => loggedMailer(smtpUrl ?? own.url, "info", retryDelaysMs);
    const mail = (subject: string) => ({ to: "retry@example.com", subject, text: "a single-use link", html: "<p>a single-use link</p>" });
    it("is tried again after a reply that may pass (4xx), and the mail arrives", async () => {
      const { mailer, lines } = await mailerLogging([20, 20, 20]);
      const before = own.tries;
      own.refuseNext(421, 451);
      mailer.send(mail("third time lucky"));
      await mailer.idle();
      expect(own.tries - before).toBe(3);
      expect(own.to("retry@example.com", "third time lucky")).toHaveLength(1);
      expect(lines.filter((l) => l.includes("mail: sending failed; trying again"))).toHaveLength(2);
      expect(lines.some((l) => l.includes("mail: sent after trying again"))).toBe(true);
      expect(lines.join("")).not.toContain("single-use link");
      await mailer.close();
    });

    it("is not tried again after a refusal (5xx), and is logged once as failed", async () => {
      const { mailer, lines } = await mailerLogging([20, 20, 20]);
      const before = own.tries;
      own.refuseNext(550);
      mailer.send(mail("refused"));
      await mailer.idle();
      expect(own.tries - before).toBe(1);
      expect(own.to("retry@example.com", "refused")).toHaveLength(0);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain("mail: sending failed");
      expect(lines[0]).toContain('"responseCode":550');
      await mailer.close();
    });

    it("is tried again when the SMTP server cannot be reached", async () => {
      const { freePort } = await import("./support/processes.js");
      const { mailer, lines } = await mailerLogging([10], `smtp://127.0.0.1:${await freePort()}`);
      mailer.send(mail("nobody listening"));
      await mailer.idle();
      expect(lines.filter((l) => l.includes("mail: sending failed; trying again"))).toHaveLength(1);
      expect(lines.at(-1)).toContain("mail: sending failed");
      expect(lines.at(-1)).toContain('"tries":2');
      await mailer.close();
    });

    it("gives up after the last wait, saying how many tries it made", async () => {
      const { mailer, lines } = await mailerLogging([10, 10]);
      const before = own.tries;
      own.refuseNext(421, 421, 421);
      mailer.send(mail("never"));
      await mailer.idle();
      expect(own.tries - before).toBe(3);
      expect(lines.at(-1)).toContain("mail: sending failed");
      expect(lines.at(-1)).toContain('"tries":3');
    });

    it("closing cuts a wait short: the mail gets one last try at once (shutdown does not wait a minute)", async () => {
      const { mailer } = await mailerLogging([60_000]); // a close that waited it out would outlast the test's timeout
      const before = own.tries;
      own.refuseNext(421);
      mailer.send(mail("before the end"));
      await until(() => own.tries > before, "the first try");
      await mailer.close();
      expect(own.tries - before).toBe(2);
      expect(own.to("retry@example.com", "before the end")).toHaveLength(1);
    });
  });

  it("without SMTP_URL sends nothing and logs one debug line per mail, without its body", async () => {
    const { mailer, lines } = await loggedMailer(undefined, "debug");
    expect(mailer.enabled).toBe(false);
    mailer.send({ to: "nobody@example.com", subject: "not sent", text: "secret link", html: "<p>secret link</p>" });
    await mailer.close();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("mail: not sent (SMTP_URL is not set)");
    expect(lines[0]).not.toContain("secret link");
  });
});

describe("keys about to expire", () => {
  it("mails the owner once, 7 days ahead, for every kind of key; not revoked, rolled or short-lived keys", async () => {
    const user = await signUp(server);
    for (const label of ["portal", "oauth", "revoked", "rolled", "short"]) await mintOnPage(user.agent, user.csrf, label);
    const db = server.services.db;
    const rows = await db.apiKey.findMany({ where: { user: { email: user.email } } });
    const byLabel = (label: string) => rows.find((r) => r.label === label)!;
    const start = byLabel("portal").createdAt.getTime();
    const day = 86_400_000;
    await db.apiKey.updateMany({
      where: { id: { in: ["portal", "oauth", "revoked", "rolled"].map((l) => byLabel(l).id) } },
      data: { expiresAt: new Date(start + 30 * day) },
    });
    await db.apiKey.update({ where: { id: byLabel("oauth").id }, data: { source: "oauth", clientId: "dcr_notice_test" } });
    await db.apiKey.update({ where: { id: byLabel("revoked").id }, data: { revokedAt: new Date() } });
    await db.apiKey.update({ where: { id: byLabel("rolled").id }, data: { replacedById: byLabel("portal").id } }); // its end was picked at the roll
    await db.apiKey.update({ where: { id: byLabel("short").id }, data: { expiresAt: new Date(start + 7 * day) } });

    // "short" has 6 days left, but its whole life is 7 days: its owner chose that a moment ago.
    expect((await sweep(server.services, new Date(start + 1 * day))).expiryNotices).toBe(0);
    expect((await sweep(server.services, new Date(start + 20 * day))).expiryNotices).toBe(0); // 10 days left
    const swept = await sweep(server.services, new Date(start + 24 * day)); // 6 days left
    expect(swept.expiryNotices).toBe(2);
    const [mail] = await smtp.waitFor(user.email, { subject: "2 Keyward API keys expire within 7 days" });
    expect(mail!.text).toContain('"portal"');
    expect(mail!.text).toContain('"oauth"');
    expect(mail!.text).not.toContain('"revoked"');
    expect(mail!.text).not.toContain('"rolled"');
    expect(mail!.text).not.toContain('"short"');
    expect((await sweep(server.services, new Date(start + 25 * day))).expiryNotices).toBe(0); // sent once
    await settled();
    expect(smtp.to(user.email, EXPIRING)).toHaveLength(0);
    expect(smtp.to(user.email).filter((m) => m.subject.includes("expire"))).toHaveLength(1);
  });
});
