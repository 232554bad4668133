// Helpers for driving Keyward with oauth4webapi, a strict spec-checking OAuth client: discovery,
// the browser part of an authorization (log-in is the agent's session, consent is the form), and
// calls to /mcp with a key.
import * as oauth from "oauth4webapi";
import type TestAgent from "supertest/lib/agent.js";
import { csrfFrom, type TestServer } from "../server.js";
import { follow } from "./flow.js";
import { mcpWhoami } from "../mcp-status.js";

/** The test server speaks plain http on 127.0.0.1; oauth4webapi refuses that unless told. */
export const insecure = { [oauth.allowInsecureRequests]: true } as const;

/** RFC 8414 ('oauth2') or OpenID Connect ('oidc') discovery, validated by oauth4webapi. */
export async function discover(server: TestServer, algorithm: "oauth2" | "oidc") {
  const issuer = new URL(server.url);
  const response = await oauth.discoveryRequest(issuer, { algorithm, ...insecure });
  const requested = response.url;
  return { as: await oauth.processDiscoveryResponse(issuer, response), requested };
}

/**
 * Opens an authorization URL with a logged-in agent, clicks Allow on the consent page and returns
 * the redirect back to the client (the first redirect that leaves the server).
 */
export async function approve(agent: TestAgent, server: TestServer, authorizationUrl: URL): Promise<URL> {
  const first = await follow(agent, server, authorizationUrl.href);
  if (first.location) return new URL(first.location);
  if (first.status !== 200 || !first.text.includes("Authorize"))
    throw new Error(`expected consent page, got ${first.status}: ${first.text.slice(0, 300)}`);
  const uid = /action="\/interaction\/([^/"]+)\/confirm"/.exec(first.text)?.[1];
  if (!uid) throw new Error("no consent form on the page");
  const res = await agent
    .post(`/interaction/${uid}/confirm`)
    .type("form")
    .send({ _csrf: csrfFrom(first.text) })
    .redirects(0);
  if (res.status !== 303) throw new Error(`consent answered ${res.status}: ${res.text.slice(0, 300)}`);
  const done = await follow(agent, server, res.headers.location as string);
  if (!done.location) throw new Error(`authorization did not come back to the client: ${done.status} ${done.text.slice(0, 300)}`);
  return new URL(done.location);
}

export interface WhoAmI {
  email: string;
  userId: string;
  keyId: string;
  keySource: string;
  scopes: string[];
}

/** POSTs a JSON-RPC tools/call whoami to /mcp with the key as a bearer token. */
export async function whoami(server: TestServer, key: string) {
  const res = await mcpWhoami(server, key);
  const info = res.status === 200 ? ((res.body as { result?: { structuredContent?: WhoAmI } }).result?.structuredContent ?? null) : null;
  return { res, info };
}
