// Sign-up, log-in, log-out over HTTP: cookies, errors, rate limits, closed sign-up, CSRF.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { browser, csrfFrom, signUp, startTestServer, uniqueEmail, type TestServer } from "./support/server.js";

const KEYS_PAGE = "/app/account/api-keys";

function setCookies(res: { headers: Record<string, unknown> }): string[] {
  const h = res.headers["set-cookie"];
  return Array.isArray(h) ? (h as string[]) : typeof h === "string" ? [h] : [];
}

function cookie(res: { headers: Record<string, unknown> }, name: string): string {
  const c = setCookies(res).find((s) => s.startsWith(`${name}=`));
  if (!c) throw new Error(`no ${name} cookie in ${JSON.stringify(setCookies(res))}`);
  return c;
}

const attrs = (c: string) =>
  c
    .split(";")
    .slice(1)
    .map((s) => s.trim().toLowerCase());
const valueOf = (c: string) => c.split(";")[0]!.split("=").slice(1).join("=");

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

describe("sign up", () => {
  it("creates the account, then log-in sets an HttpOnly SameSite=Lax cookie (not Secure on http) and lands on the keys page", async () => {
    const agent = browser(server);
    const form = await agent.get("/signup").expect(200);
    expect(form.text).toContain('<form method="post" action="/signup">');
    expect(form.headers["cache-control"]).toBe("no-store");
    const csrfCookie = cookie(form, "kw_csrf");
    expect(attrs(csrfCookie)).toEqual(expect.arrayContaining(["httponly", "samesite=lax", "path=/"]));
    expect(attrs(csrfCookie)).not.toContain("secure");

    const email = uniqueEmail("signup");
    const res = await agent
      .post("/signup")
      .type("form")
      .send({ _csrf: csrfFrom(form.text), email: ` ${email.toUpperCase()} `, password: "long enough pw" })
      .expect(303);
    // Sign-up does not log in: its answer must be the same whether the email was free (see below).
    expect(res.headers.location).toBe(`/login?signed_up=1&return_to=${encodeURIComponent(KEYS_PAGE)}`);
    expect(setCookies(res).some((c) => c.startsWith("kw_session="))).toBe(false);
    const login = await agent.get(res.headers.location!).expect(200);
    expect(login.text).toContain("Thank you for signing up. Log in with your email and password to continue.");
    const ok = await agent
      .post("/login")
      .type("form")
      .send({ _csrf: csrfFrom(login.text), email, password: "long enough pw", return_to: KEYS_PAGE })
      .expect(303);
    expect(ok.headers.location).toBe(KEYS_PAGE);
    const session = cookie(ok, "kw_session");
    expect(valueOf(session)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const a = attrs(session);
    expect(a).toEqual(expect.arrayContaining(["httponly", "samesite=lax", "path=/"]));
    expect(a.some((x) => x.startsWith("expires="))).toBe(true);
    expect(a).not.toContain("secure");

    const page = await agent.get(KEYS_PAGE).expect(200);
    expect(page.text).toContain(`<span class="who">${email}</span>`); // stored lower-cased and trimmed
    expect(page.text).toContain("<h1>API keys</h1>");
  });

  it("explains invalid input", async () => {
    const agent = browser(server);
    const csrf = csrfFrom((await agent.get("/signup")).text);
    const bad = await agent
      .post("/signup")
      .type("form")
      .send({ _csrf: csrf, email: "not-an-email", password: "long enough pw" })
      .expect(400);
    expect(bad.text).toContain("Enter a valid email address");
    expect(setCookies(bad).some((c) => c.startsWith("kw_session="))).toBe(false);
    const short = await agent.post("/signup").type("form").send({ _csrf: csrf, email: uniqueEmail(), password: "short" }).expect(400);
    expect(short.text).toContain("Password must be at least 8 characters");
  });
});

describe("log in and log out", () => {
  it("logs in with the right password and honours a local return_to only", async () => {
    const { email, password } = await signUp(server);
    const agent = browser(server);
    const form = await agent.get(`/login?return_to=${encodeURIComponent("/app/account/api-keys?x=1")}`).expect(200);
    expect(form.text).toContain('name="return_to" value="/app/account/api-keys?x=1"');
    const ok = await agent
      .post("/login")
      .type("form")
      .send({ _csrf: csrfFrom(form.text), email, password, return_to: "/app/account/api-keys?x=1" })
      .expect(303);
    expect(ok.headers.location).toBe("/app/account/api-keys?x=1");
    expect(attrs(cookie(ok, "kw_session"))).toEqual(expect.arrayContaining(["httponly", "samesite=lax"]));
    expect((await agent.get(KEYS_PAGE).expect(200)).text).toContain(email);

    for (const evil of ["//evil.example/x", "https://evil.example/", "/\\evil.example"]) {
      const a2 = browser(server);
      const csrf = csrfFrom((await a2.get("/login")).text);
      const res = await a2.post("/login").type("form").send({ _csrf: csrf, email, password, return_to: evil }).expect(303);
      expect(res.headers.location).toBe(KEYS_PAGE);
    }
  });

  it("wrong password and unknown email get the same 401 page", async () => {
    const { email } = await signUp(server);
    const agent = browser(server);
    const csrf = csrfFrom((await agent.get("/login")).text);
    const unknownEmail = uniqueEmail("nobody");
    const wrong = await agent.post("/login").type("form").send({ _csrf: csrf, email, password: "wrong password" });
    const unknown = await agent.post("/login").type("form").send({ _csrf: csrf, email: unknownEmail, password: "wrong password" });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.text).toContain('<p class="alert error" role="alert">Invalid email or password.</p>');
    // identical apart from the email echoed back into the form
    expect(unknown.text.replace(unknownEmail, "EMAIL")).toBe(wrong.text.replace(email, "EMAIL"));
    expect(setCookies(wrong).some((c) => c.startsWith("kw_session="))).toBe(false);
    expect(setCookies(unknown).some((c) => c.startsWith("kw_session="))).toBe(false);
    await agent.get(KEYS_PAGE).expect(302);
  });

  it("a page that needs log-in redirects to it", async () => {
    const res = await request(server.url).get(KEYS_PAGE).expect(302);
    expect(res.headers.location).toBe(`/login?return_to=${encodeURIComponent(KEYS_PAGE)}`);
  });

  it("log-out ends the session on the server and clears the cookie", async () => {
    const { agent, csrf } = await signUp(server);
    const page = await agent.get(KEYS_PAGE).expect(200);
    expect(page.text).toContain('<form method="post" action="/logout" class="inline">');
    const sessionCookie = (await agent.get(KEYS_PAGE)).request.cookies; // what the agent sends
    expect(sessionCookie).toMatch(/kw_session=/);
    const token = /kw_session=([^;]+)/.exec(sessionCookie)![1]!;

    const out = await agent.post("/logout").type("form").send({ _csrf: csrf }).expect(303);
    expect(out.headers.location).toBe("/login?signed_out=1");
    const cleared = cookie(out, "kw_session");
    expect(valueOf(cleared)).toBe("");
    expect(cleared).toMatch(/expires=Thu, 01 Jan 1970/i);

    await agent.get(KEYS_PAGE).expect(302);
    // the old token is dead on the server too, not only forgotten by this browser
    await request(server.url).get(KEYS_PAGE).set("Cookie", `kw_session=${token}`).expect(302);
    const login = await agent.get("/login?signed_out=1").expect(200);
    expect(login.text).toContain("You have been logged out.");
  });
});

describe("CSRF on the account forms", () => {
  it("sign-up, log-in and log-out refuse a missing or wrong token with 403", async () => {
    const { agent, csrf, email, password } = await signUp(server);
    const fresh = browser(server);
    const freshCsrf = csrfFrom((await fresh.get("/login")).text);
    const cases: [string, Record<string, string>][] = [
      ["/signup", { email: uniqueEmail(), password: "long enough pw" }],
      ["/login", { email, password }],
    ];
    for (const [path, body] of cases) {
      const missing = await fresh.post(path).type("form").send(body);
      expect(missing.status, `${path} without token`).toBe(403);
      expect(missing.text).toContain("Missing or invalid CSRF token");
      const wrong = await fresh
        .post(path)
        .type("form")
        .send({ ...body, _csrf: freshCsrf.slice(0, -2) + "xx" });
      expect(wrong.status, `${path} with wrong token`).toBe(403);
      expect(setCookies(wrong).some((c) => c.startsWith("kw_session="))).toBe(false);
    }
    // a logged-in user's token is not accepted from another browser's cookie, and vice versa
    expect((await agent.post("/logout").type("form").send({ _csrf: freshCsrf })).status).toBe(403);
    expect((await agent.post("/logout").type("form").send({})).status).toBe(403);
    await agent.get(KEYS_PAGE).expect(200); // still logged in
    await agent.post("/logout").type("form").send({ _csrf: csrf }).expect(303);
  });
});

describe("landing page", () => {
  it("links to sign-up and log-in when logged out, to the keys page when logged in", async () => {
    const anon = await request(server.url).get("/").expect(200);
    expect(anon.text).toContain('<a class="button" href="/signup">Create an account</a>');
    expect(anon.text).toContain('<a class="button secondary" href="/login">Log in</a>');
    expect(anon.text).toContain(`<code>${server.config.baseUrl}/mcp</code>`);
    expect(anon.headers["content-security-policy"]).toContain("script-src 'self'");
    const { agent } = await signUp(server);
    const home = await agent.get("/").expect(200);
    expect(home.text).toContain(`<a class="button" href="${KEYS_PAGE}">Manage your API keys</a>`);
    expect(home.text).not.toContain("Create an account");
  });
});

describe("log-in rate limit", () => {
  it("answers 429 with a clear message after too many failures, even for the right password", async () => {
    const limited = await startTestServer({ LOGIN_MAX_FAILURES: "3", LOGIN_WINDOW_MINUTES: "15" });
    try {
      const { email, password } = await signUp(limited);
      const agent = browser(limited);
      const csrf = csrfFrom((await agent.get("/login")).text);
      for (let i = 0; i < 3; i++) {
        const res = await agent
          .post("/login")
          .type("form")
          .send({ _csrf: csrf, email, password: `wrong ${i}` });
        expect(res.status, `attempt ${i + 1}`).toBe(401);
      }
      const blocked = await agent.post("/login").type("form").send({ _csrf: csrf, email, password: "wrong again" });
      expect(blocked.status).toBe(429);
      expect(blocked.text).toContain("Too many failed log-in attempts. Try again in 15 minutes.");
      expect(Number(blocked.headers["retry-after"])).toBeGreaterThan(14 * 60);
      expect(Number(blocked.headers["retry-after"])).toBeLessThanOrEqual(15 * 60);
      const right = await agent.post("/login").type("form").send({ _csrf: csrf, email: email.toUpperCase(), password });
      expect(right.status).toBe(429);
      expect(setCookies(right).some((c) => c.startsWith("kw_session="))).toBe(false);
      // another account from the same address is not locked out by this one
      const other = await signUp(limited);
      await agent.post("/login").type("form").send({ _csrf: csrf, email: other.email, password: other.password }).expect(303);
    } finally {
      await limited.close();
    }
  });
});

describe("closed sign-up", () => {
  it("ALLOW_SIGNUP=false refuses the sign-up page and form and hides the links", async () => {
    const closed = await startTestServer({ ALLOW_SIGNUP: "false" });
    try {
      const agent = browser(closed);
      const page = await agent.get("/signup").expect(403);
      expect(page.text).toContain("Sign-up is closed on this server.");
      const csrf = csrfFrom((await agent.get("/login").expect(200)).text);
      const post = await agent
        .post("/signup")
        .type("form")
        .send({ _csrf: csrf, email: uniqueEmail(), password: "long enough pw" })
        .expect(403);
      expect(post.text).toContain("Sign-up is closed on this server.");
      expect(setCookies(post).some((c) => c.startsWith("kw_session="))).toBe(false);
      expect(await closed.services.db.user.count()).toBe(0);
      const login = await agent.get("/login").expect(200);
      expect(login.text).not.toContain('href="/signup');
      const home = await agent.get("/").expect(200);
      expect(home.text).not.toContain('href="/signup');
      expect(home.text).toContain('href="/login"');
    } finally {
      await closed.close();
    }
  });
});

describe("behind https (ISSUER=https://…)", () => {
  it("marks every cookie Secure and sends HSTS", async () => {
    const secure = await startTestServer({ ISSUER: "https://keyward.test" });
    try {
      // supertest's cookie jar will not send Secure cookies over http, so carry them by hand
      const form = await request(secure.url).get("/signup").expect(200);
      expect(form.headers["strict-transport-security"]).toBe("max-age=31536000; includeSubDomains");
      const csrfCookie = cookie(form, "kw_csrf");
      expect(attrs(csrfCookie)).toEqual(expect.arrayContaining(["secure", "httponly", "samesite=lax"]));
      const email = uniqueEmail();
      await request(secure.url)
        .post("/signup")
        .set("Cookie", `kw_csrf=${valueOf(csrfCookie)}`)
        .type("form")
        .send({ _csrf: csrfFrom(form.text), email, password: "long enough pw" })
        .expect(303);
      const res = await request(secure.url)
        .post("/login")
        .set("Cookie", `kw_csrf=${valueOf(csrfCookie)}`)
        .type("form")
        .send({ _csrf: csrfFrom(form.text), email, password: "long enough pw" })
        .expect(303);
      const session = cookie(res, "kw_session");
      expect(attrs(session)).toEqual(expect.arrayContaining(["secure", "httponly", "samesite=lax", "path=/"]));
      expect(attrs(cookie(res, "kw_device"))).toEqual(expect.arrayContaining(["secure", "httponly", "samesite=lax", "path=/login"]));
      const page = await request(secure.url)
        .get(KEYS_PAGE)
        .set("Cookie", `kw_session=${valueOf(session)}`)
        .expect(200);
      const out = await request(secure.url)
        .post("/logout")
        .set("Cookie", `kw_session=${valueOf(session)}`)
        .type("form")
        .send({ _csrf: csrfFrom(page.text) })
        .expect(303);
      expect(attrs(cookie(out, "kw_session"))).toContain("secure");
    } finally {
      await secure.close();
    }
  });
});
