// `import { keywardVerifier } from "keyward/resource-server"`: what a separate MCP server (issue 25 B,
// docs/resource-servers.md) uses to verify Keyward keys itself. It implements the MCP SDK's
// OAuthTokenVerifier (for requireBearerAuth) and is as easy to call from any other handler.
//
// - verifyAccessToken(token): RFC 7662 introspection at Keyward with this resource's credentials
//   (active only for keys that work here), answered from memory afterwards.
// - The memory is kept true by Keyward's event stream for this resource (GET /api/resources/<slug>/events):
//   a revoked, changed or removed key is dropped when its event arrives, and `reset` drops everything.
//   The cache is trusted only while the stream is up (after its `ready`): when it is down, every
//   request is introspected, and the stream is reconnected with Last-Event-ID.
// - verifyAssertion(jwt): the gateway's X-Keyward-Assertion (EdDSA JWT, keys at the issuer's JWKS).
// Standalone: it imports nothing of the server (no database, no Keyward configuration).
import { createHash } from "node:crypto";
import { createRemoteJWKSet, customFetch, jwtVerify, type JWTPayload } from "jose";
import { LRUCache } from "lru-cache";
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import { InvalidTokenError, ServerError } from "@modelcontextprotocol/sdk/server/auth/errors.js";

export interface KeywardVerifierOptions {
  /** Keyward's ISSUER, e.g. https://keys.example.com */
  issuer: string;
  /** This server's public URL, exactly as registered (`keyward resources add <slug> --external <url>`): its keys' audience. */
  resource: string;
  /** The resource's slug at Keyward (its event stream is /api/resources/<slug>/events). */
  slug: string;
  /** The credentials `keyward resources add … --external` printed. */
  clientId: string;
  clientSecret: string;
  /** Verifications held in memory (default 10 000); 0 introspects every request. */
  cacheSize?: number;
  /** Wait before reconnecting the event stream (default 1000 ms). */
  reconnectMs?: number;
  /** Told of stream and introspection problems (the verifier carries on, introspecting every request). */
  onError?: (err: unknown) => void;
  /** Your fetch (tests, proxies); default the global one. */
  fetch?: typeof fetch;
}

/** What a Keyward key is, beyond the SDK's AuthInfo fields. */
export interface KeywardKeyInfo {
  /** The user (app keys: the admin who minted it). */
  sub: string;
  username: string | null;
  organizationId: string | null;
  role: string | null;
  app: { id: string; name: string } | null;
}

/** The gateway's X-Keyward-Assertion, verified. */
export interface KeywardAssertion extends JWTPayload {
  sub: string;
  scope: string;
  org: string;
  key_id: string;
  sub_type: "user" | "app";
  email?: string;
  client_id?: string;
}

export interface KeywardVerifier {
  /** The MCP SDK's OAuthTokenVerifier: an AuthInfo for a key that works here; InvalidTokenError otherwise. */
  verifyAccessToken(token: string): Promise<AuthInfo & { extra: KeywardKeyInfo & Record<string, unknown> }>;
  /** Verifies an X-Keyward-Assertion header for this resource (signature, issuer, audience, type, expiry). */
  verifyAssertion(jwt: string): Promise<KeywardAssertion>;
  /** True while the event stream is up and verifications are answered from memory. */
  readonly streaming: boolean;
  /** Resolves once the event stream is up (tests, readiness checks). */
  whenStreaming(): Promise<void>;
  /** Ends the event stream and empties the cache. */
  close(): void;
}

export const ASSERTION_TYP = "kw-assertion+jwt";

const sha256Hex = (token: string) => createHash("sha256").update(token, "utf8").digest("hex");

interface Introspected {
  active?: unknown;
  sub?: unknown;
  username?: unknown;
  scope?: unknown;
  aud?: unknown;
  client_id?: unknown;
  exp?: unknown;
  organization_id?: unknown;
  role?: unknown;
  app?: unknown;
  cnf?: unknown;
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

export function keywardVerifier(options: KeywardVerifierOptions): KeywardVerifier {
  const issuer = options.issuer.replace(/\/+$/, "");
  const doFetch = options.fetch ?? fetch;
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`).toString("base64")}`;
  const introspectionUrl = `${issuer}/token/introspection`;
  const eventsUrl = `${issuer}/api/resources/${encodeURIComponent(options.slug)}/events`;
  const cacheSize = options.cacheSize ?? 10_000;
  const cache = cacheSize > 0 ? new LRUCache<string, AuthInfo & { extra: KeywardKeyInfo }>({ max: cacheSize }) : undefined;
  const reportError = (err: unknown) => options.onError?.(err);

  // The stream's state. `generation` moves with every event, reset or outage: an introspection that
  // started before one of them is not cached (it may describe the key as it was before the event).
  let streaming = false;
  let generation = 0;
  let lastEventId: string | undefined;
  let closed = false;
  let abort: AbortController | undefined;
  let waiters: (() => void)[] = [];

  const forgetAll = () => {
    generation++;
    cache?.clear();
  };
  const down = () => {
    if (streaming) reportError(new Error("Keyward event stream is down: introspecting every request until it is back"));
    streaming = false;
    forgetAll();
  };

  const onEvent = (type: string, data: string) => {
    generation++;
    if (type === "reset") return forgetAll();
    if (type === "ready") {
      streaming = true;
      for (const w of waiters) w();
      waiters = [];
      return;
    }
    try {
      const parsed = JSON.parse(data) as { sha256?: unknown };
      if (typeof parsed.sha256 === "string") cache?.delete(parsed.sha256);
      else forgetAll();
    } catch {
      forgetAll(); // an event we cannot read: trust nothing held
    }
  };

  async function follow(): Promise<void> {
    while (!closed) {
      abort = new AbortController();
      try {
        const res = await doFetch(eventsUrl, {
          headers: { authorization: basic, accept: "text/event-stream", ...(lastEventId ? { "last-event-id": lastEventId } : {}) },
          signal: abort.signal,
        });
        if (res.status !== 200 || !res.body) throw new Error(`Keyward event stream answered ${res.status}`);
        await readStream(res.body);
        throw new Error("Keyward event stream ended");
      } catch (err) {
        down();
        if (closed) return;
        reportError(err);
      }
      await new Promise((r) => setTimeout(r, options.reconnectMs ?? 1000).unref?.());
    }
  }

  /** Server-Sent Events (the WHATWG parsing rules that matter here: event, data, id, comments). */
  async function readStream(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    let type = "";
    let data: string[] = [];
    let id: string | undefined;
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + (buffer.startsWith("\r\n", nl) ? 2 : 1));
        if (line === "") {
          if (id !== undefined) lastEventId = id;
          if (data.length > 0 || type === "reset" || type === "ready") onEvent(type || "message", data.join("\n"));
          type = "";
          data = [];
          id = undefined;
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") type = value;
        else if (field === "data") data.push(value);
        else if (field === "id" && !value.includes("\0")) id = value;
      }
    }
  }

  async function introspect(token: string): Promise<Introspected> {
    let res: Response;
    try {
      res = await doFetch(introspectionUrl, {
        method: "POST",
        headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body: new URLSearchParams({ token, token_type_hint: "access_token" }).toString(),
      });
    } catch (err) {
      reportError(err);
      throw new ServerError("Keyward cannot be reached to verify the key");
    }
    if (res.status !== 200) {
      reportError(new Error(`Keyward introspection answered ${res.status}`));
      throw new ServerError(`Keyward introspection answered ${res.status}`);
    }
    return (await res.json()) as Introspected;
  }

  const assertionKeys = createRemoteJWKSet(new URL(`${issuer}/jwks`), options.fetch ? { [customFetch]: options.fetch } : {});

  void follow();

  return {
    get streaming() {
      return streaming;
    },

    whenStreaming() {
      return streaming ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve));
    },

    async verifyAccessToken(token) {
      const digest = sha256Hex(token);
      const held = streaming ? cache?.get(digest) : undefined;
      // A held answer lasts until the key's own expiry at most (no event marks that moment).
      if (held && (held.expiresAt === undefined || held.expiresAt * 1000 > Date.now())) return { ...held, token };
      if (held) cache?.delete(digest);
      const startedIn = generation;
      const wasStreaming = streaming;
      const answer = await introspect(token);
      if (answer.active !== true)
        throw new InvalidTokenError("The key is not valid for this resource (unknown, revoked, or bound to another)");
      if (answer.cnf !== undefined)
        throw new InvalidTokenError("DPoP-bound keys are not accepted here (this server does not check DPoP proofs)");
      const audiences = Array.isArray(answer.aud) ? answer.aud : [answer.aud];
      if (!audiences.includes(options.resource)) throw new InvalidTokenError("The key is not bound to this resource");
      const app = answer.app && typeof answer.app === "object" ? (answer.app as { id?: unknown; name?: unknown }) : undefined;
      const info = {
        token,
        clientId: str(answer.client_id) ?? "keyward",
        scopes: (str(answer.scope) ?? "").split(" ").filter(Boolean),
        expiresAt: typeof answer.exp === "number" ? answer.exp : undefined,
        resource: new URL(options.resource),
        extra: {
          sub: str(answer.sub) ?? "",
          username: str(answer.username),
          organizationId: str(answer.organization_id),
          role: str(answer.role),
          app: app && typeof app.id === "string" && typeof app.name === "string" ? { id: app.id, name: app.name } : null,
        },
      };
      // Held only if the stream vouched for the whole time the answer was on its way.
      if (cache && wasStreaming && streaming && generation === startedIn) cache.set(digest, { ...info, token: "" });
      return info;
    },

    async verifyAssertion(jwt) {
      const { payload } = await jwtVerify(jwt, assertionKeys, {
        issuer,
        audience: options.resource,
        typ: ASSERTION_TYP,
        algorithms: ["EdDSA", "Ed25519", "ES256", "ES384", "ES512", "RS256"],
        requiredClaims: ["sub", "exp", "iat"],
      });
      return payload as KeywardAssertion;
    },

    close() {
      closed = true;
      streaming = false;
      abort?.abort();
      forgetAll();
    },
  };
}
