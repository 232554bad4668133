// `keyward auth login`: the CLI is an OAuth 2.1 public client of the server (RFC 8252 native app).
// Discovery (RFC 8414) → dynamic registration (RFC 7591) with a loopback redirect URI on a random
// port → authorization request with PKCE S256, state and resource (RFC 8707) in the browser →
// the loopback server receives the code (state and iss checked, RFC 9207) → token request → a
// Keyward key bound to <server>/mcp.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { hostname } from "node:os";
import { z } from "zod";
import { CliError, ExitCode } from "../errors.js";
import { authFailure, call, errorText } from "./client.js";

const asMetadata = z.looseObject({
  issuer: z.string(),
  authorization_endpoint: z.url(),
  token_endpoint: z.url(),
  registration_endpoint: z.url().optional(),
  revocation_endpoint: z.url().optional(),
  authorization_response_iss_parameter_supported: z.boolean().optional(),
});
const prMetadata = z.looseObject({ resource: z.url(), scopes_supported: z.array(z.string()).optional() });
const registration = z.looseObject({ client_id: z.string().min(1), registration_access_token: z.string().max(1024).optional() });
const tokenResponse = z.looseObject({ access_token: z.string().min(1), token_type: z.string() });

export type AuthServerMetadata = z.infer<typeof asMetadata>;

const b64url = (buf: Buffer) => buf.toString("base64url");

async function getJson<T>(server: string, path: string, schema: z.ZodType<T>, what: string): Promise<T> {
  const res = await call(server, path, { headers: { Accept: "application/json" } });
  if (!res.ok) throw new CliError(`${what}: ${await errorText(res)} from ${server}${path}; is this a Keyward server?`);
  const parsed = schema.safeParse(await res.json().catch(() => undefined));
  if (!parsed.success) throw new CliError(`${what}: ${server}${path} is not valid metadata`);
  return parsed.data;
}

export async function discover(server: string): Promise<AuthServerMetadata> {
  const meta = await getJson(server, "/.well-known/oauth-authorization-server", asMetadata, "discovery");
  if (meta.issuer.replace(/\/+$/, "") !== server)
    throw new CliError(`discovery: the server calls itself ${meta.issuer}, not ${server}; use --server ${meta.issuer}`);
  return meta;
}

interface Callback {
  redirectUri: string;
  result: Promise<URLSearchParams>;
  close(): Promise<void>;
}

const PAGE = (title: string, text: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body style="font-family:sans-serif;margin:3em"><h1>${title}</h1><p>${text}</p></body></html>`;

/** A one-shot HTTP server on 127.0.0.1 (random port) that waits for the redirect carrying our state. */
async function listenForCallback(state: string): Promise<Callback> {
  let settle!: (q: URLSearchParams) => void;
  const result = new Promise<URLSearchParams>((resolve) => (settle = resolve));
  const expected = Buffer.from(state);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const given = Buffer.from(url.searchParams.get("state") ?? "");
    const send = (status: number, title: string, text: string) => {
      res.writeHead(status, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", Connection: "close" });
      res.end(PAGE(title, text));
    };
    if (req.method !== "GET" || url.pathname !== "/callback") return send(404, "Not found", "This is the Keyward CLI's login callback.");
    // A request without our state is not the answer to our request: ignore it, keep waiting.
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      return send(400, "Unexpected request", "This login attempt does not match the one the CLI started.");
    const denied = url.searchParams.get("error");
    if (denied) send(200, "Login not completed", "The Keyward CLI was not authorized. You can close this window.");
    else send(200, "Logged in", "The Keyward CLI is logged in. You can close this window and return to the terminal.");
    settle(url.searchParams);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    redirectUri: `http://127.0.0.1:${port}/callback`,
    result,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface LoginOptions {
  server: string;
  /** Seconds to wait for the browser step. */
  timeoutSeconds: number;
  scopes?: string[];
  progress(line: string): void;
  /** Called with the authorization URL once the loopback server listens. */
  openUrl(url: string): void;
  /**
   * The client an earlier login registered (RFC 7592 credentials): used again while the server still
   * knows it, so logging in again does not add another "Keyward CLI" to the user's Connected apps.
   */
  client?: { clientId: string; registrationAccessToken: string };
}

export interface LoginResult {
  key: string;
  clientId: string;
  /** RFC 7592: what lets the next login check and reuse this client (stored with the key). */
  registrationAccessToken?: string;
  resource: string;
  metadata: AuthServerMetadata;
}

/** The earlier client, if the server still has it (RFC 7592 read with its registration access token). */
async function stillRegistered(server: string, endpoint: string, client: NonNullable<LoginOptions["client"]>): Promise<boolean> {
  const res = await call(server, `${endpoint.replace(/\/+$/, "")}/${encodeURIComponent(client.clientId)}`, {
    headers: { Authorization: `Bearer ${client.registrationAccessToken}`, Accept: "application/json" },
  }).catch(() => undefined);
  await res?.body?.cancel().catch(() => {});
  return res?.status === 200;
}

export async function oauthLogin(options: LoginOptions): Promise<LoginResult> {
  const { server, progress } = options;
  const metadata = await discover(server);
  const protectedResource = await getJson(server, "/.well-known/oauth-protected-resource/mcp", prMetadata, "discovery");
  if (!metadata.registration_endpoint)
    throw new CliError(
      `${server} does not offer dynamic client registration (REGISTRATION=closed); use \`keyward auth set-token\` with a key from the account page`,
    );

  const state = b64url(randomBytes(24));
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash("sha256").update(verifier).digest());
  const callback = await listenForCallback(state);
  let timer: NodeJS.Timeout | undefined;
  let onSigint: (() => void) | undefined;
  try {
    let clientId: string;
    let registrationAccessToken: string | undefined;
    const registrationEndpoint = metadata.registration_endpoint;
    if (options.client && (await stillRegistered(server, registrationEndpoint, options.client))) {
      ({ clientId, registrationAccessToken } = options.client);
      progress(`Using the Keyward CLI client registered at the last login (${clientId})…`);
    } else {
      progress(`Registering the Keyward CLI with ${server}…`);
      const reg = await call(server, registrationEndpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({
          client_name: `Keyward CLI (${hostname().slice(0, 60)})`,
          redirect_uris: [callback.redirectUri],
          grant_types: ["authorization_code"],
          response_types: ["code"],
          token_endpoint_auth_method: "none",
          application_type: "native",
        }),
      });
      if (!reg.ok) throw new CliError(`client registration failed: ${await errorText(reg)}`);
      const client = registration.safeParse(await reg.json().catch(() => undefined));
      if (!client.success) throw new CliError("client registration failed: the server's answer has no client_id");
      clientId = client.data.client_id;
      registrationAccessToken = client.data.registration_access_token;
    }

    const auth = new URL(metadata.authorization_endpoint);
    const params: Record<string, string> = {
      response_type: "code",
      client_id: clientId,
      redirect_uri: callback.redirectUri,
      code_challenge: challenge,
      code_challenge_method: "S256",
      state,
      resource: protectedResource.resource,
    };
    if (options.scopes?.length) params.scope = options.scopes.join(" ");
    for (const [k, v] of Object.entries(params)) auth.searchParams.set(k, v);

    options.openUrl(auth.href);
    progress(`Waiting for you to approve in the browser (up to ${options.timeoutSeconds} s; Ctrl-C to cancel)…`);
    const query = await Promise.race([
      callback.result,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new CliError(`timed out after ${options.timeoutSeconds} s waiting for the browser; run \`keyward auth login\` again`)),
          options.timeoutSeconds * 1000,
        );
      }),
      new Promise<never>((_, reject) => {
        onSigint = () => reject(new CliError("cancelled", ExitCode.interrupted));
        process.once("SIGINT", onSigint);
      }),
    ]);

    const iss = query.get("iss");
    if ((iss !== null || metadata.authorization_response_iss_parameter_supported) && iss !== metadata.issuer) {
      throw authFailure("login failed: the authorization response came from another issuer");
    }
    const error = query.get("error");
    if (error) throw authFailure(`login failed: ${error}${query.get("error_description") ? `: ${query.get("error_description")}` : ""}`);
    const code = query.get("code");
    if (!code) throw authFailure("login failed: the authorization response carries no code");

    progress("Approved. Exchanging the code for a key…");
    const token = await call(server, metadata.token_endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code,
        redirect_uri: callback.redirectUri,
        client_id: clientId,
        code_verifier: verifier,
        resource: protectedResource.resource,
      }),
    });
    if (!token.ok) throw authFailure(`login failed at the token endpoint: ${await errorText(token)}`);
    const issued = tokenResponse.safeParse(await token.json().catch(() => undefined));
    if (!issued.success || issued.data.token_type.toLowerCase() !== "bearer")
      throw new CliError("login failed: the token endpoint's answer has no bearer access_token");
    return { key: issued.data.access_token, clientId, registrationAccessToken, resource: protectedResource.resource, metadata };
  } finally {
    if (timer) clearTimeout(timer);
    if (onSigint) process.off("SIGINT", onSigint);
    await callback.close();
  }
}

/** RFC 7009 revocation as the public client that owns the key (portal/CLI keys: the first-party client). */
export async function revokeByOAuth(server: string, key: string, clientId: string, metadata?: AuthServerMetadata): Promise<boolean> {
  const endpoint = metadata?.revocation_endpoint ?? (await discover(server)).revocation_endpoint;
  if (!endpoint) return false;
  const res = await call(server, endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: key, token_type_hint: "access_token", client_id: clientId }),
  });
  return res.ok;
}
