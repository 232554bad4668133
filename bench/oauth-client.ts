// The benchmark's clients, built on the tests' own helpers (test/support/server.ts, test/support/oauth/flow.ts):
// a signed-up browser session, keys minted and revoked through the JSON API with it, and the timed OAuth
// runs: full flows (DCR → authorize with PKCE S256 → consent → token) and the token endpoint alone.
import { signUp, type Reachable } from "../test/support/server.js";
import { authorize, exchange, pkcePair, register } from "../test/support/oauth/flow.js";

/** A signed-up, logged-in browser (supertest agent with cookies) and its CSRF token for the JSON API. */
export type Session = Awaited<ReturnType<typeof signUp>>;

/** Signs up a new user (the given email, or a fresh one) and logs in. */
export function session(base: string, email?: string): Promise<Session> {
  return signUp({ url: base }, email);
}

/** POST /api/api-keys with the session: a portal key minted by the app itself. */
export async function mintKey(s: Session, label: string): Promise<{ id: string; key: string }> {
  const res = await s.agent.post("/api/api-keys").set("x-csrf-token", s.csrf).send({ label });
  if (res.status !== 201) throw new Error(`mint answered ${res.status}: ${res.text}`);
  return res.body as { id: string; key: string };
}

/** DELETE /api/api-keys/:id with the session; resolves once the revocation is committed (200). */
export async function revokeKey(s: Session, id: string): Promise<void> {
  const res = await s.agent.delete(`/api/api-keys/${id}`).set("x-csrf-token", s.csrf);
  if (res.status !== 200) throw new Error(`revoke answered ${res.status}: ${res.text}`);
}

/** Registration → authorize → consent: a code for a new client, with its PKCE verifier. */
async function codeFor(server: Reachable, s: Session): Promise<{ clientId: string; code: string; verifier: string }> {
  const reg = await register(server);
  if (reg.status !== 201) throw new Error(`registration answered ${reg.status}: ${reg.text}`);
  const clientId = (reg.body as { client_id: string }).client_id;
  const pkce = pkcePair();
  const done = await authorize(s.agent, server, { clientId, challenge: pkce.challenge, method: "S256", scope: "mcp:read" });
  const code = done.searchParams.get("code");
  if (!code) throw new Error(`no code in ${done.href}`);
  return { clientId, code, verifier: pkce.verifier };
}

async function token(server: Reachable, c: { clientId: string; code: string; verifier: string }): Promise<void> {
  const res = await exchange(server, c);
  if (res.status !== 200) throw new Error(`token answered ${res.status}: ${res.text}`);
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

/** Full flows (register → authorize → consent → token) for `seconds`, `concurrency` browsers (users) in parallel. */
export async function flowsPerSecond(base: string, concurrency: number, seconds: number): Promise<Timed> {
  const server = { url: base };
  const sessions = await Promise.all(Array.from({ length: concurrency }, () => session(base)));
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    sessions.map(async (s) => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await token(server, await codeFor(server, s));
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
export async function tokensPerSecond(base: string, concurrency: number, count: number): Promise<Timed> {
  const server = { url: base };
  const sessions = await Promise.all(Array.from({ length: concurrency }, () => session(base)));
  const codes: { clientId: string; code: string; verifier: string }[] = [];
  // Codes live 120 s: stop making them after 60 s so the timed part never meets an expired one.
  const makeUntil = performance.now() + 60_000;
  await Promise.all(
    sessions.map(async (s) => {
      while (codes.length < count && performance.now() < makeUntil) codes.push(await codeFor(server, s));
    }),
  );
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    sessions.map(async () => {
      for (let c = codes[next++]; c; c = codes[next++]) {
        const t = performance.now();
        try {
          await token(server, c);
          latencies.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  return summarise(latencies, (performance.now() - started) / 1000, errors);
}
