// How a separate resource server proves who it is: its credentials (credentials.ts), sent as HTTP
// Basic (RFC 6749 2.3.1: client id and secret form-urlencoded, then base64) or, for introspection, as
// client_id and client_secret in the form body (client_secret_post). Exactly one way per request.
// Any failure is the same 401 invalid_client with a Basic challenge: an unknown id, a wrong secret or
// rotated credentials all look alike.
import { HttpError } from "../http/errors.js";
import type { CredentialHolder, ResourceLookup } from "./lookup.js";
import { CREDENTIAL_PREFIX, secretMatches } from "./credentials.js";

export interface PresentedCredentials {
  clientId: string;
  clientSecret: string;
}

export const invalidClient = () =>
  new HttpError(401, "invalid_client", "client authentication failed", { "WWW-Authenticate": 'Basic realm="keyward", charset="UTF-8"' });

const formDecode = (s: string): string | undefined => {
  try {
    return decodeURIComponent(s.replaceAll("+", " "));
  } catch {
    return undefined;
  }
};

/** The credentials of `Authorization: Basic …`; undefined without one; "malformed" for a Basic header that is not id:secret. */
export function basicCredentials(authorization: string | undefined): PresentedCredentials | "malformed" | undefined {
  if (authorization === undefined || !/^basic /i.test(authorization)) return undefined;
  const encoded = authorization.slice(6).trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return "malformed";
  const decoded = Buffer.from(encoded, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return "malformed";
  const clientId = formDecode(decoded.slice(0, colon));
  const clientSecret = formDecode(decoded.slice(colon + 1));
  return clientId !== undefined && clientSecret !== undefined ? { clientId, clientSecret } : "malformed";
}

/** True when a client id is a resource server's credential id (the rest belong to oidc-provider). */
export const isResourceCredentialId = (clientId: string): boolean => clientId.startsWith(CREDENTIAL_PREFIX);

/** The external resource these credentials belong to; throws 401 invalid_client otherwise. */
export async function authenticateResource(lookup: ResourceLookup, presented: PresentedCredentials): Promise<CredentialHolder> {
  const holder = await lookup.byCredential(presented.clientId);
  // Compared even for an unknown id, against a hash no secret has, so both take the same time.
  const matches = secretMatches(holder?.secretHash ?? "0".repeat(64), presented.clientSecret);
  if (!holder || !matches) throw invalidClient();
  return holder;
}
