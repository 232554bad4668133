// `keyward auth …` end to end: the CLI (a child process, --no-browser) registers itself, prints the
// authorization URL, and waits on its loopback redirect; headless Chromium plays the user (log in,
// Allow); the CLI exchanges the code and stores the key 0600. Then whoami, KEYWARD_TOKEN, logout
// (RFC 7009), set-token and exit code 3 for revoked keys, all against the running server.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Browser, type Page } from "playwright-core";
import { launchChromium, logInWhenAsked, noBrowser } from "./support/browser.js";
import { mintOnPage, signUp, startTestServer, type TestServer } from "./support/server.js";
import { expectError, keyward, startKeyward } from "./support/cli-run.js";
import { BY_OPERATOR } from "./support/acting.js";

const KEY = /^kw_user_[0-9A-Za-z]{49}$/;

interface StoredFile {
  version: number;
  default?: string;
  servers: Record<
    string,
    { key: string; via: string; clientId?: string; registrationAccessToken?: string; email?: string; keyId?: string }
  >;
}

describe.skipIf(noBrowser)("keyward auth: login through the browser, whoami, KEYWARD_TOKEN, logout, revoked keys", () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let user: Awaited<ReturnType<typeof signUp>>;
  let xdg: string;
  let env: Record<string, string>;
  const credentialsFile = () => path.join(xdg, "keyward", "credentials.json");
  const stored = () => JSON.parse(readFileSync(credentialsFile(), "utf8")) as StoredFile;
  let loginKey: { raw: string; id: string };

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
    page = await (await browser.newContext()).newPage();
    user = await signUp(server);
    xdg = mkdtempSync(path.join(tmpdir(), "keyward-xdg-"));
    env = { XDG_CONFIG_HOME: xdg };
  });
  afterAll(async () => {
    await browser?.close().catch(() => {});
    await server?.close();
    if (xdg) rmSync(xdg, { recursive: true, force: true });
  });

  it("auth login: DCR + PKCE in the browser; the CLI's loopback server gets the code; the key is stored 0600 in a 0700 directory", async () => {
    const login = startKeyward(["auth", "login", "--server", `${server.url}/`, "--no-browser", "--timeout", "60"], { env });
    const [, printed] = await login.waitForStderr(/^ {2}(http:\/\/127\.0\.0\.1:\d+\/auth\?\S+)$/m);
    const authUrl = new URL(printed!);
    expect(authUrl.origin).toBe(server.url);
    expect(authUrl.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authUrl.searchParams.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authUrl.searchParams.get("resource")).toBe(`${server.url}/mcp`);
    expect(authUrl.searchParams.get("client_id")).toMatch(/^dcr_/);
    const redirect = new URL(authUrl.searchParams.get("redirect_uri")!);
    expect(redirect.hostname).toBe("127.0.0.1");
    expect(Number(redirect.port)).toBeGreaterThan(0);
    await login.waitForStderr(/Waiting for you to approve/);

    await page.goto(authUrl.href);
    await logInWhenAsked(page, user);
    await page.waitForURL((u) => u.pathname.startsWith("/interaction/"));
    await page.getByRole("button", { name: "Allow", exact: true }).click();
    await page.waitForURL((u) => u.href.startsWith(`${redirect.origin}/callback?`));
    expect(await page.locator("h1").textContent()).toBe("Logged in");

    const run = await login.done;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe(`Logged in to ${server.url} as ${user.email}.`);

    // 0600 file in a 0700 directory, keyed by the normalised server URL.
    expect(statSync(credentialsFile()).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(credentialsFile())).mode & 0o777).toBe(0o700);
    const file = stored();
    expect(file.default).toBe(server.url);
    const entry = file.servers[server.url]!;
    expect(entry).toMatchObject({ via: "login", clientId: authUrl.searchParams.get("client_id"), email: user.email });
    expect(entry.key).toMatch(KEY);
    loginKey = { raw: entry.key, id: entry.keyId! };
    // The key is an ordinary OAuth key row bound to /mcp, and no raw key reached the server's logs.
    const row = (await server.services.keys.list((await server.services.users.findByEmail(user.email))!.id)).find(
      (k) => k.id === loginKey.id,
    );
    expect(row).toMatchObject({ source: "oauth", resources: [`${server.url}/mcp`], status: "active" });
    expect(server.logs.join("")).not.toContain(entry.key);
    expect(run.stdout + run.stderr).not.toContain(entry.key);
  });

  it("auth login again reuses the client it registered (RFC 7592 read): one Keyward CLI in Connected apps, the old key revoked", async () => {
    const before = stored().servers[server.url]!;
    expect(before.registrationAccessToken).toBeTruthy();
    const login = startKeyward(["auth", "login", "--server", server.url, "--no-browser", "--timeout", "60"], { env });
    const [, printed] = await login.waitForStderr(/^ {2}(http:\/\/127\.0\.0\.1:\d+\/auth\?\S+)$/m);
    const authUrl = new URL(printed!);
    expect(authUrl.searchParams.get("client_id")).toBe(before.clientId);
    const redirect = new URL(authUrl.searchParams.get("redirect_uri")!);
    await page.goto(authUrl.href);
    // Already logged in; consent is asked again or the grant is reused: either way the CLI gets its code.
    await page.waitForURL((u) => u.pathname.startsWith("/interaction/") || u.href.startsWith(`${redirect.origin}/callback?`));
    if (new URL(page.url()).pathname.startsWith("/interaction/")) await page.getByRole("button", { name: "Allow", exact: true }).click();
    await page.waitForURL((u) => u.href.startsWith(`${redirect.origin}/callback?`));
    const run = await login.done;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain("registered at the last login");
    const after = stored().servers[server.url]!;
    expect(after.clientId).toBe(before.clientId);
    expect(after.key).not.toBe(before.key);
    const owner = (await server.services.users.findByEmail(user.email))!;
    expect((await server.services.keys.get(owner.id, before.keyId!))?.status).toBe("revoked");
    const apps = await user.agent.get("/app/account/connected-apps").expect(200);
    expect(apps.text.match(/<td class="label">Keyward CLI \(/g)?.length).toBe(1);
    expect(apps.text).toContain(`OAuth: ${before.clientId}`);
    loginKey = { raw: after.key, id: after.keyId! };
  });

  it("auth whoami prints the identity, the key's source and scopes, and where the key came from", async () => {
    const run = await keyward(["auth", "whoami"], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`Server:  ${server.url}`);
    expect(run.stdout).toMatch(new RegExp(`User:    ${user.email.replace(/[.+]/g, "\\$&")} \\(usr_`));
    expect(run.stdout).toMatch(new RegExp(`Key:     ${loginKey.id} \\(OAuth: dcr_`));
    expect(run.stdout).toContain("Scopes:  mcp:read mcp:write");
    expect(run.stdout).toContain(`From:    ${credentialsFile()} (auth login)`);
    expect(run.stdout).not.toContain(loginKey.raw);

    const json = await keyward(["auth", "whoami", "--json", "--server", server.url], { env });
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      server: server.url,
      email: user.email,
      keyId: loginKey.id,
      tokenFrom: "file",
      tokenPath: credentialsFile(),
    });
  });

  it("KEYWARD_TOKEN wins over the credentials file", async () => {
    const portal = await mintOnPage(user.agent, user.csrf, "ci");
    const run = await keyward(["auth", "whoami", "--json"], { env: { ...env, KEYWARD_TOKEN: portal.raw } });
    expect(run.code, run.stderr).toBe(0);
    const info = JSON.parse(run.stdout) as { keyId: string; keySource: string; tokenFrom: string };
    expect(info.keyId).not.toBe(loginKey.id);
    expect(info).toMatchObject({ keySource: "Portal", tokenFrom: "env" });
  });

  it("remote api-keys refuses the /mcp-bound login key with exit 3 and says what to do", async () => {
    const run = await keyward(["api-keys", "list"], { env });
    expectError(run, 3, /bound to .*\/mcp.*auth set-token/);
  });

  it("auth logout revokes the login key on the server (RFC 7009) and deletes it locally", async () => {
    const run = await keyward(["auth", "logout"], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`Logged out of ${server.url}`);
    const owner = (await server.services.users.findByEmail(user.email))!;
    expect((await server.services.keys.get(owner.id, loginKey.id))?.status).toBe("revoked");
    expect(stored().servers[server.url]).toBeUndefined();
    expect(statSync(credentialsFile()).mode & 0o777).toBe(0o600);
    // Nothing stored any more: exit 3, one line.
    const again = await keyward(["auth", "whoami", "--server", server.url], { env });
    expectError(again, 3, /not logged in to/);
    expect(again.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("auth set-token checks the key offline, then with the server; a revoked key is exit 3", async () => {
    const portal = await mintOnPage(user.agent, user.csrf, "pasted");
    // A typo is caught offline (exit 2), before anything is stored.
    const typo = portal.raw.slice(0, -1) + (portal.raw.endsWith("A") ? "B" : "A");
    expectError(await keyward(["auth", "set-token", typo, "--server", server.url], { env }), 2, /checksum/);
    expect(stored().servers[server.url]).toBeUndefined();

    const set = await keyward(["auth", "set-token", "--server", server.url], { env, input: `${portal.raw}\n` });
    expect(set.code, set.stderr).toBe(0);
    expect(stored().servers[server.url]).toMatchObject({ key: portal.raw, via: "set-token", email: user.email });
    const who = await keyward(["auth", "whoami"], { env });
    expect(who.code, who.stderr).toBe(0);
    expect(who.stdout).toMatch(/Key: +key_\S+ \(Portal\)/);

    // Revoke it on the account page: the CLI now fails with exit 3 and one line.
    const owner = (await server.services.users.findByEmail(user.email))!;
    const id = stored().servers[server.url]!.keyId!;
    await server.services.keys.revoke({ kind: "own", userId: owner.id, id }, BY_OPERATOR);
    const revoked = await keyward(["auth", "whoami"], { env });
    expectError(revoked, 3, /authentication failed: The key has been revoked/);
    expect(revoked.stderr.trim().split("\n")).toHaveLength(1);
    // The same through KEYWARD_TOKEN, and set-token refuses to store a revoked key.
    expectError(await keyward(["auth", "whoami", "--server", server.url], { env: { ...env, KEYWARD_TOKEN: portal.raw } }), 3, /revoked/);
    expectError(
      await keyward(["auth", "set-token", portal.raw, "--server", server.url], { env: { XDG_CONFIG_HOME: path.join(xdg, "other") } }),
      3,
      /revoked/,
    );
    expect(existsSync(path.join(xdg, "other", "keyward", "credentials.json"))).toBe(false);
  });

  it("auth logout also revokes a pasted portal key", async () => {
    const portal = await mintOnPage(user.agent, user.csrf, "to log out");
    expect((await keyward(["auth", "set-token", portal.raw, "--server", server.url], { env })).code).toBe(0);
    const id = stored().servers[server.url]!.keyId!;
    const run = await keyward(["auth", "logout", "--server", server.url], { env });
    expect(run.code, run.stderr).toBe(0);
    const owner = (await server.services.users.findByEmail(user.email))!;
    expect((await server.services.keys.get(owner.id, id))?.status).toBe("revoked");
    expect(stored().servers[server.url]).toBeUndefined();
  });

  it("auth login gives up after --timeout with a clear message (exit 1)", async () => {
    const run = await keyward(["auth", "login", "--server", server.url, "--no-browser", "--timeout", "1"], {
      env: { XDG_CONFIG_HOME: path.join(xdg, "timeout") },
    });
    expectError(run, 1, /timed out after 1 s waiting for the browser/);
    expect(run.stderr).toContain(`${server.url}/auth?`);
  });
});
