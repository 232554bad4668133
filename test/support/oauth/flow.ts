// Scripted OAuth client for tests: DCR → authorize (PKCE S256) → log-in → consent → token,
// driven over HTTP with supertest agents (no browser).
import { createHash, randomBytes } from "node:crypto";
import request from "supertest";
import { csrfFrom, type Reachable } from "../server.js";
import type TestAgent from "supertest/lib/agent.js";

export const pkcePair = () => {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
};

/** The Authorization header of client_secret_basic: id and secret form-encoded first (RFC 6749 §2.3.1). */
export const clientBasic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;

export async function register(server: Reachable, metadata: Record<string, unknown> = {}) {
  const res = await request(server.url)
    .post("/reg")
    .send({
      client_name: "Test MCP client",
      redirect_uris: ["http://127.0.0.1:33418/callback"],
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      ...metadata,
    });
  return res;
}

/** Follows redirects inside the server; stops at the first redirect that leaves it (the client's redirect_uri). */
export async function follow(
  agent: TestAgent,
  server: Reachable,
  location: string,
): Promise<{ status: number; location?: string; text: string; headers?: Record<string, string> }> {
  let url = location;
  for (let i = 0; i < 10; i++) {
    if (!url.startsWith(server.url) && !url.startsWith("/")) return { status: 302, location: url, text: "" };
    const path = url.startsWith(server.url) ? url.slice(server.url.length) : url;
    const res = await agent.get(path).redirects(0);
    if (res.status >= 300 && res.status < 400 && res.headers.location) {
      url = res.headers.location;
      continue;
    }
    return { status: res.status, text: res.text, location: undefined, headers: res.headers as Record<string, string> };
  }
  throw new Error("too many redirects");
}

export interface AuthorizeParams {
  clientId: string;
  redirectUri?: string;
  challenge?: string;
  method?: string;
  scope?: string;
  resource?: string;
  state?: string;
}

/** The parameters of an authorization request: the query of authorizeUrl, or the form of a pushed one (RFC 9126). */
export function authorizeParams(p: AuthorizeParams): Record<string, string> {
  const q: Record<string, string> = {
    response_type: "code",
    client_id: p.clientId,
    redirect_uri: p.redirectUri ?? "http://127.0.0.1:33418/callback",
    state: p.state ?? "st4te",
  };
  if (p.challenge !== undefined) q.code_challenge = p.challenge;
  if (p.method !== undefined) q.code_challenge_method = p.method;
  if (p.scope !== undefined) q.scope = p.scope;
  if (p.resource !== undefined) q.resource = p.resource;
  return q;
}

export function authorizeUrl(p: AuthorizeParams): string {
  return `/auth?${new URLSearchParams(authorizeParams(p))}`;
}

/** Runs authorize with a logged-in agent; clicks Allow (or Deny). Returns the final redirect to the client. */
export async function authorize(agent: TestAgent, server: Reachable, p: AuthorizeParams, decision: "Allow" | "Deny" = "Allow") {
  return authorizeAt(agent, server, authorizeUrl(p), decision);
}

/**
 * Runs authorize (Allow) with a fresh S256 PKCE pair, as an MCP client does; returns the redirect back
 * to the client, the code it carries and the pair's verifier (for exchange()).
 */
export async function authorizeWithPkce(agent: TestAgent, server: Reachable, p: Omit<AuthorizeParams, "challenge" | "method">) {
  const pkce = pkcePair();
  const back = await authorize(agent, server, { ...p, challenge: pkce.challenge, method: "S256" });
  return { back, code: back.searchParams.get("code")!, verifier: pkce.verifier };
}

/** The same for an authorization URL a client built itself (an MCP SDK, mcp-remote): plays the logged-in user. */
export async function authorizeAt(agent: TestAgent, server: Reachable, url: string, decision: "Allow" | "Deny" = "Allow") {
  const first = await follow(agent, server, url);
  if (first.location) return new URL(first.location);
  if (first.status !== 200 || !first.text.includes("Authorize"))
    throw new Error(`expected consent page, got ${first.status}: ${first.text.slice(0, 300)}`);
  return decideOnConsent(agent, server, first, decision);
}

/**
 * Clicks Allow (or Deny) on a consent page the test has already looked at; the consent must answer 303.
 * Returns the redirect back to the client, at the end of the redirects that follow.
 */
export async function decideOnConsent(
  agent: TestAgent,
  server: Reachable,
  consent: { text: string },
  decision: "Allow" | "Deny" = "Allow",
) {
  const uid = /action="\/interaction\/([^/"]+)\/confirm"/.exec(consent.text)![1]!;
  const res = await agent
    .post(`/interaction/${uid}/${decision === "Allow" ? "confirm" : "abort"}`)
    .type("form")
    .send({ _csrf: csrfFrom(consent.text) })
    .redirects(0);
  if (res.status !== 303) throw new Error(`consent answered ${res.status}: ${res.text.slice(0, 300)}`);
  const done = await follow(agent, server, res.headers.location!);
  return new URL(done.location!);
}

export async function exchange(
  server: Reachable,
  p: { clientId: string; code: string; verifier: string; redirectUri?: string; resource?: string },
) {
  const form: Record<string, string> = {
    grant_type: "authorization_code",
    code: p.code,
    code_verifier: p.verifier,
    redirect_uri: p.redirectUri ?? "http://127.0.0.1:33418/callback",
    client_id: p.clientId,
  };
  if (p.resource) form.resource = p.resource;
  return request(server.url).post("/token").type("form").send(form);
}
