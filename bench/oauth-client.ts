// A scripted browser + OAuth client over fetch (no vitest, no supertest): sign-up / log-in, the JSON
// API with the session, and the OAuth flow of test/support/oauth/flow.ts: DCR → authorize (PKCE S256) →
// consent → code → token.
import { CookieClient } from "../test/support/processes.js";
import { createHash, randomBytes } from "node:crypto";

export const REDIRECT_URI = "http://127.0.0.1:33418/callback";
export const PASSWORD = "correct horse battery staple";

// One cookie jar for 127.0.0.1, whichever port it talks to: the same client the multi-process
// tests use.
export { CookieClient };

export function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error(`no CSRF token in page: ${html.slice(0, 200)}`);
  return m[1]!;
}

export const pkcePair = () => {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
};

/** A logged-in browser: signs up (first time) or logs in; `csrf` is the session's token for the JSON API. */
export async function signIn(base: string, email: string, mode: "signup" | "login"): Promise<{ browser: CookieClient; csrf: string }> {
  const browser = new CookieClient();
  const page = await browser.request(`${base}/${mode}`);
  const res = await browser.form(`${base}/${mode}`, { _csrf: csrfOf(await page.text()), email, password: PASSWORD });
  if (res.status !== 303) throw new Error(`${mode} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  await res.arrayBuffer();
  // Sign-up does not log in (it must not tell whether the email was taken): log in next.
  if (mode === "signup") return signIn(base, email, "login");
  const keysPage = await browser.request(`${base}/app/account/api-keys`);
  if (keysPage.status !== 200) throw new Error(`account page answered ${keysPage.status}`);
  return { browser, csrf: csrfOf(await keysPage.text()) };
}

/** POST /api/api-keys with the session: a portal key minted by the app itself. */
export async function mintKey(base: string, session: { browser: CookieClient; csrf: string }, label: string): Promise<{ id: string; key: string }> {
  const res = await session.browser.request(`${base}/api/api-keys`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-csrf-token": session.csrf },
    body: JSON.stringify({ label }),
  });
  if (res.status !== 201) throw new Error(`mint answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { id: string; key: string };
}

/** DELETE /api/api-keys/:id with the session; resolves once the revocation is committed (200). */
export async function revokeKey(base: string, session: { browser: CookieClient; csrf: string }, id: string): Promise<void> {
  const res = await session.browser.request(`${base}/api/api-keys/${id}`, { method: "DELETE", headers: { "x-csrf-token": session.csrf } });
  if (res.status !== 200) throw new Error(`revoke answered ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
}

export async function registerClient(base: string): Promise<string> {
  const res = await fetch(`${base}/reg`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ client_name: "Bench client", redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"], response_types: ["code"] }),
  });
  if (res.status !== 201) throw new Error(`registration answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { client_id: string }).client_id;
}

/** Follows redirects inside the server; stops at the client's redirect_uri or a page. */
async function follow(browser: CookieClient, base: string, first: Response): Promise<{ res: Response; location?: URL }> {
  let res = first;
  for (let i = 0; i < 10; i++) {
    const loc = res.headers.get("location");
    if (res.status < 300 || res.status >= 400 || !loc) return { res };
    await res.arrayBuffer();
    const url = new URL(loc, base);
    if (url.href.startsWith(REDIRECT_URI)) return { res, location: url };
    res = await browser.request(url.href);
  }
  throw new Error("too many redirects");
}

/** authorize → consent (Allow) → the code at the redirect URI. The browser must be logged in. */
export async function authorizeToCode(base: string, browser: CookieClient, clientId: string): Promise<{ code: string; verifier: string }> {
  const pkce = pkcePair();
  const q = new URLSearchParams({ response_type: "code", client_id: clientId, redirect_uri: REDIRECT_URI, code_challenge: pkce.challenge, code_challenge_method: "S256", scope: "mcp:read", state: "st4te" });
  const page = await follow(browser, base, await browser.request(`${base}/auth?${q}`));
  let done = page.location;
  if (!done) {
    const html = await page.res.text();
    const uid = /action="\/interaction\/([^/"]+)\/confirm"/.exec(html)?.[1];
    if (!uid) throw new Error(`expected the consent page, got ${page.res.status}: ${html.slice(0, 300)}`);
    const confirm = await browser.form(`${base}/interaction/${uid}/confirm`, { _csrf: csrfOf(html) });
    if (confirm.status !== 303) throw new Error(`consent answered ${confirm.status}`);
    done = (await follow(browser, base, confirm)).location;
  }
  const code = done?.searchParams.get("code");
  if (!code) throw new Error(`no code in ${done?.href}`);
  return { code, verifier: pkce.verifier };
}

export async function exchange(base: string, clientId: string, code: string, verifier: string): Promise<string> {
  const res = await fetch(`${base}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: REDIRECT_URI, client_id: clientId }),
  });
  if (res.status !== 200) throw new Error(`token answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

export interface Timed {
  count: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
  seconds: number;
}

function summarise(latencies: number[], seconds: number, errors: number): Timed {
  const sorted = [...latencies].sort((a, b) => a - b);
  const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : 0);
  return { count: sorted.length, perSecond: sorted.length / seconds, p50: pct(50), p99: pct(99), errors, seconds };
}

/** Full flows (register → authorize → consent → token) for `seconds`, `concurrency` browsers in parallel. */
export async function flowsPerSecond(base: string, email: string, concurrency: number, seconds: number): Promise<Timed> {
  const browsers = await Promise.all(Array.from({ length: concurrency }, () => signIn(base, email, "login")));
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    browsers.map(async ({ browser }) => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          const clientId = await registerClient(base);
          const { code, verifier } = await authorizeToCode(base, browser, clientId);
          await exchange(base, clientId, code, verifier);
          latencies.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  return summarise(latencies, (performance.now() - started) / 1000, errors);
}

/** The token endpoint alone: `count` codes made first (untimed), then only the /token calls timed. */
export async function tokensPerSecond(base: string, email: string, concurrency: number, count: number): Promise<Timed> {
  const browsers = await Promise.all(Array.from({ length: concurrency }, () => signIn(base, email, "login")));
  const codes: { clientId: string; code: string; verifier: string }[] = [];
  // Codes live 120 s: stop making them after 60 s so the timed part never meets an expired one.
  const makeUntil = performance.now() + 60_000;
  await Promise.all(
    browsers.map(async ({ browser }) => {
      while (codes.length < count && performance.now() < makeUntil) {
        const clientId = await registerClient(base);
        codes.push({ clientId, ...(await authorizeToCode(base, browser, clientId)) });
      }
    }),
  );
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    browsers.map(async () => {
      for (let c = codes[next++]; c; c = codes[next++]) {
        const t = performance.now();
        try {
          await exchange(base, c.clientId, c.code, c.verifier);
          latencies.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  return summarise(latencies, (performance.now() - started) / 1000, errors);
}
