// Talking to a Keyward server from the CLI: which server and key to use, HTTP calls with a
// timeout, and server answers turned into one-line CliErrors (401 → exit 3).
import { z } from "zod";
import { CliError, ExitCode } from "../errors.js";
import { credentialsPath, readCredentials, type StoredCredential } from "./credentials.js";
import { normaliseServerUrl } from "./server-url.js";

export const TOKEN_ENV = "KEYWARD_TOKEN";
export const SERVER_ENV = "KEYWARD_SERVER";
const TIMEOUT_MS = 30_000;

/** Authentication failures (a missing, revoked or refused key) exit with 3. */
export const authFailure = (message: string) => new CliError(message, ExitCode.notFound);

export interface Target {
  server: string;
  key: string;
  /** Where the key came from: the environment (KEYWARD_TOKEN) or the credentials file. */
  from: "env" | "file";
  stored?: StoredCredential;
}

/** True when nothing names a server or a key: no --server, KEYWARD_SERVER, KEYWARD_TOKEN or stored key. */
export function nothingToGoOn(option: string | undefined): boolean {
  return (
    option === undefined &&
    !process.env[SERVER_ENV] &&
    !process.env[TOKEN_ENV]?.trim() &&
    Object.keys(readCredentials().servers).length === 0
  );
}

/**
 * --server, else KEYWARD_SERVER, else the credentials file's default (or its only) server, else
 * `fallback` when given (mcp-config: this machine's server), else a usage error.
 */
export function resolveServer(option: string | undefined, fallback?: () => string): string {
  const given = option ?? process.env[SERVER_ENV];
  if (given) return normaliseServerUrl(given);
  const data = readCredentials();
  const known = Object.keys(data.servers);
  const stored = data.default && data.servers[data.default] ? data.default : known.length === 1 ? known[0] : undefined;
  if (stored) return stored;
  if (fallback) return normaliseServerUrl(fallback());
  throw CliError.usage(`no server: pass --server <url> or set ${SERVER_ENV}`);
}

/** The server and key for a remote command. KEYWARD_TOKEN always wins over the file. */
export function resolveTarget(option: string | undefined): Target {
  const server = resolveServer(option);
  const stored = readCredentials().servers[server];
  const fromEnv = process.env[TOKEN_ENV]?.trim();
  if (fromEnv) return { server, key: fromEnv, from: "env", stored };
  if (stored) return { server, key: stored.key, from: "file", stored };
  throw authFailure(
    `not logged in to ${server}: run \`keyward auth login --server ${server}\`, \`keyward auth set-token\`, or set ${TOKEN_ENV}`,
  );
}

export function describeSource(target: Target): string {
  return target.from === "env"
    ? `${TOKEN_ENV} environment variable`
    : `${credentialsPath()} (${target.stored?.via === "login" ? "auth login" : "auth set-token"})`;
}

export async function call(server: string, path: string, init: RequestInit = {}): Promise<Response> {
  const url = path.startsWith("http") ? path : `${server}${path}`;
  try {
    return await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(TIMEOUT_MS), ...init });
  } catch (err) {
    const cause = err instanceof Error ? ((err.cause instanceof Error ? err.cause.message : undefined) ?? err.message) : String(err);
    throw new CliError(`cannot reach ${server}: ${cause}`);
  }
}

const errorBody = z.looseObject({ error: z.string().optional(), error_description: z.string().optional() });

/** The server's own words for a failed response, kept short. */
export async function errorText(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  let parsed: z.infer<typeof errorBody> | undefined;
  try {
    const r = errorBody.safeParse(JSON.parse(text));
    parsed = r.success ? r.data : undefined;
  } catch {
    parsed = undefined;
  }
  const said = parsed?.error_description ?? parsed?.error;
  return said ? `${said} (HTTP ${res.status})` : `HTTP ${res.status}`;
}

/**
 * A CliError for a non-2xx response: 401 is an authentication failure and 404 not found (exit 3), a
 * refused input (400, 422) a usage error (exit 2), as the same command says on the server.
 */
export async function failure(res: Response, what: string, hint = ""): Promise<CliError> {
  const text = await errorText(res);
  if (res.status === 401) return authFailure(`${what}: authentication failed: ${text}${hint ? `; ${hint}` : ""}`);
  if (res.status === 404) return CliError.notFound(`${what}: not found: ${text}`);
  if (res.status === 400 || res.status === 422) return CliError.usage(`${what}: ${text}`);
  return new CliError(`${what}: ${text}`);
}

export function bearer(key: string): Record<string, string> {
  return { Authorization: `Bearer ${key}` };
}
