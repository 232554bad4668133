// Issue 27 item 6, from the outside: the log-in page during an authorization names the app asking;
// consent puts Allow and Deny side by side, says the key does not expire and that a self-registered
// app's name is not verified; an unknown client_id at /auth gets a page in words (machine endpoints
// stay JSON). Every client-supplied value renders inert.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import request from "supertest";
import { browser, csrfFrom, signUp, startTestServer, type TestServer } from "./support/server.js";
import { authorize, authorizeUrl, follow, pkcePair, register } from "./support/oauth/flow.js";

let server: TestServer;
let clientId: string;
const NAME = `Helper <script>alert("name")</script>`;
const ESCAPED = "Helper &lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;";

beforeAll(async () => {
  server = await startTestServer();
  clientId = (await register(server, { client_name: NAME })).body.client_id as string;
});
afterAll(async () => server?.close());

const params = () => ({ clientId, ...pkcePair(), method: "S256", resource: `${server.url}/mcp`, scope: "mcp:read" });

describe("OAuth pages", () => {
  it("the log-in page an authorization leads to names the app asking (escaped, marked not verified)", async () => {
    const agent = browser(server);
    const p = params();
    const page = await follow(agent, server, authorizeUrl({ ...p, challenge: p.challenge }));
    expect(page.status).toBe(200);
    expect(page.text).toContain("<h1>Log in</h1>");
    expect(page.text).toContain(`Log in to connect <strong>${ESCAPED}</strong>`);
    expect(page.text).toContain(`<code>${clientId}</code>`);
    expect(page.text).toContain("Keyward has not verified it");
    expect(page.text).not.toContain("<script>alert");
    // a plain log-in names no app
    expect((await browser(server).get("/login").expect(200)).text).not.toContain("Log in to connect");
    expect((await browser(server).get("/login?return_to=/interaction/not-a-real-one").expect(200)).text).not.toContain("Log in to connect");
  });

  it("consent: Allow and Deny side by side in one form, the key does not expire, the name is not verified", async () => {
    const person = await signUp(server);
    const p = params();
    const page = await follow(person.agent, server, authorizeUrl({ ...p, challenge: p.challenge }));
    expect(page.status).toBe(200);
    expect(page.text).toMatch(
      /<p class="decision">\s*<button type="submit">Allow<\/button>\s*<button type="submit" class="secondary" formaction="\/interaction\/[^"]+\/abort">Deny<\/button>/,
    );
    expect(page.text).toContain("It does not expire");
    expect(page.text).toContain("Name not verified.");
    expect(page.text).toContain(`Authorize ${ESCAPED}?`);
    expect(page.text).not.toContain("<script>alert");
    // Deny (the same form, posted to /abort) still denies
    const uid = /action="\/interaction\/([^/"]+)\/confirm"/.exec(page.text)![1]!;
    const denied = await person.agent
      .post(`/interaction/${uid}/abort`)
      .type("form")
      .send({ _csrf: csrfFrom(page.text), scopes: "mcp:read" })
      .redirects(0);
    expect(denied.status).toBe(303);
    const back = await follow(person.agent, server, denied.headers.location!);
    expect(new URL(back.location!).searchParams.get("error")).toBe("access_denied");
    // and Allow still allows
    const allowed = await authorize(person.agent, server, { ...params(), challenge: pkcePair().challenge });
    expect(allowed.searchParams.get("code")).toBeTruthy();
  });

  it("an unknown client_id at /auth: a 400 page in words, in the site's layout, the id escaped", async () => {
    const bad = `nope<script>alert(1)</script>`;
    const res = await browser(server)
      .get(authorizeUrl({ clientId: bad, challenge: pkcePair().challenge, method: "S256" }))
      .redirects(0);
    expect(res.status).toBe(400);
    expect(res.headers["content-type"]).toMatch(/text\/html/);
    expect(res.text).toContain("This application is not registered with Keyward");
    expect(res.text).toContain('<nav aria-label="Main">');
    expect(res.text).toContain("nope&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(res.text).not.toContain("<script>alert");
    expect(res.headers.location).toBeUndefined();
  });

  it("machine endpoints still answer JSON", async () => {
    const res = await request(server.url)
      .post("/token")
      .type("form")
      .send({
        grant_type: "authorization_code",
        code: "x",
        client_id: "nope",
        code_verifier: "x".repeat(43),
        redirect_uri: "http://127.0.0.1:33418/callback",
      });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.headers["content-type"]).toMatch(/application\/json/);
    expect(res.body.error).toBe("invalid_client");
  });
});
