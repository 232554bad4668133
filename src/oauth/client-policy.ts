// What every client's metadata must satisfy, however the client arrived: dynamic registration
// (RFC 7591), its update (RFC 7592 PUT), a Client ID Metadata Document, a stored record loaded
// again, a static client. oidc-provider runs `extraClientMetadata.validator` on every one of those
// paths while it builds the client (lib/helpers/client_schema.js), so this is where the policy lives;
// the /reg middleware only adds an edge check and the rate limit.
import { errors, type Configuration } from "oidc-provider";
import { classifyRedirectUri } from "./redirect-uris.js";
import { textProblem } from "./client-text.js";

/**
 * The response modes that work, are published, and are all a client may use: `query` (OAuth 2.1's
 * default) and `fragment` (also what oidc-provider resolves an implicit response_type to, so such a
 * request is refused as `unsupported_response_type`). Not `form_post`: its auto-submit page needs
 * inline script, which the CSP forbids.
 */
export const RESPONSE_MODES: readonly string[] = ["query", "fragment"];

/** Grants a client may hold. No refresh tokens are issued (keys do not expire), so `refresh_token` is dropped from requests. */
const UNSUPPORTED_GRANTS = new Set(["refresh_token"]);

/** Free text and URIs stored with a client, shown on pages, or used to redirect. */
const TEXT_PROPERTIES = [
  "client_name",
  "client_uri",
  "logo_uri",
  "policy_uri",
  "tos_uri",
  "contacts",
  "jwks_uri",
  "sector_identifier_uri",
  "initiate_login_uri",
  "scope",
  "default_acr_values",
  "post_logout_redirect_uris",
  // RFC 7591 §2: kept (and compared by the registration fingerprint, src/oauth/dedup/fingerprint.ts).
  "software_id",
  "software_version",
] as const;

const strings = (value: unknown): string[] =>
  typeof value === "string" ? [value] : Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];

function checkText(key: string, value: unknown): void {
  for (const s of strings(value)) {
    const problem = textProblem(s);
    if (problem) throw new errors.InvalidClientMetadata(`${key} ${problem}`);
  }
}

function checkRedirectUris(value: unknown, metadata: Record<string, unknown>): void {
  if (!Array.isArray(value)) return; // oidc-provider reports the type error
  const kinds = value.map((uri) => {
    const result = classifyRedirectUri(uri);
    if ("error" in result) throw Object.assign(new errors.InvalidRedirectUri(), { error_description: result.error });
    return result.kind;
  });
  // A client whose redirect URIs use a private-use scheme (vscode:, cursor:) is a native app
  // (RFC 8252); oidc-provider refuses such URIs for the default "web" type.
  if (kinds.includes("private-use")) metadata.application_type = "native";
}

/**
 * A Client ID Metadata Document may list the methods its client can authenticate with
 * (`token_endpoint_auth_methods_supported`, draft-ietf-oauth-client-id-metadata-document issue 87),
 * e.g. `private_key_jwt` and `none`: such a client is taken as the public client (`none`) it also is,
 * whatever single `token_endpoint_auth_method` it names. Documents only: a registration names its method.
 */
function negotiateAuthMethod(value: unknown, metadata: Record<string, unknown>): void {
  if (value === undefined) return;
  if (!Array.isArray(value) || value.some((m) => typeof m !== "string"))
    throw new errors.InvalidClientMetadata("token_endpoint_auth_methods_supported must be an array of strings");
  const isDocument = typeof metadata.client_id === "string" && metadata.client_id.startsWith("https://");
  if (isDocument && value.includes("none")) metadata.token_endpoint_auth_method = "none";
}

export const clientMetadataPolicy: NonNullable<Configuration["extraClientMetadata"]> = {
  properties: ["redirect_uris", "grant_types", "response_modes", "token_endpoint_auth_methods_supported", ...TEXT_PROPERTIES],
  validator(_ctx, key, value, metadata) {
    const record = metadata as Record<string, unknown>;
    switch (key) {
      case "redirect_uris":
        checkRedirectUris(value, record);
        return;
      case "grant_types":
        // RFC 7591 §3.2.1: the server may replace requested values; the response shows what was registered.
        if (Array.isArray(value)) record.grant_types = value.filter((g) => !UNSUPPORTED_GRANTS.has(g as string));
        return;
      case "token_endpoint_auth_methods_supported":
        negotiateAuthMethod(value, record);
        return;
      case "response_modes":
        if (value === undefined) record.response_modes = [...RESPONSE_MODES];
        else if (!Array.isArray(value) || value.some((m) => !RESPONSE_MODES.includes(m as string))) {
          throw new errors.InvalidClientMetadata(`response_modes: this server supports ${RESPONSE_MODES.join(", ")} only`);
        }
        return;
      default:
        checkText(key, value);
    }
  },
};
