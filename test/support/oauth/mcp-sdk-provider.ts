// An in-memory OAuthClientProvider for the MCP TypeScript SDK, for tests. It never navigates
// anywhere itself: redirectToAuthorization() only records the URL, and the test decides what to do
// with it (open it in a browser, or assert that a re-authorization was asked for). Everything the
// SDK hands it (registration, discovery, tokens, invalidations) is kept for assertions.
import { randomBytes } from "node:crypto";
import type { OAuthClientProvider, OAuthDiscoveryState } from "@modelcontextprotocol/sdk/client/auth.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";

export interface RecordingProviderOptions {
  /** The loopback redirect URI, e.g. http://127.0.0.1:<port>/callback. */
  redirectUrl: string;
  clientName: string;
}

export class RecordingOAuthProvider implements OAuthClientProvider {
  /** Every URL the SDK asked us to send the user to, in order. */
  readonly authorizationUrls: URL[] = [];
  /** Every state value handed out, in order. */
  readonly states: string[] = [];
  /** Every invalidateCredentials() scope the SDK asked for. */
  readonly invalidations: string[] = [];
  /** The last discovery state the SDK saved (protected-resource + authorization-server metadata). */
  discovery: OAuthDiscoveryState | undefined;
  /** How many times the SDK registered (saved fresh client information). */
  registrations = 0;

  private client: OAuthClientInformationMixed | undefined;
  private savedTokens: OAuthTokens | undefined;
  private verifier: string | undefined;

  constructor(private readonly options: RecordingProviderOptions) {}

  get redirectUrl(): string {
    return this.options.redirectUrl;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.options.clientName,
      redirect_uris: [this.options.redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }

  state(): string {
    const value = randomBytes(16).toString("base64url");
    this.states.push(value);
    return value;
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.client;
  }

  saveClientInformation(info: OAuthClientInformationMixed): void {
    if (info.client_id !== this.client?.client_id) this.registrations++;
    this.client = info;
  }

  /** The client id the SDK registered (throws before registration). */
  get clientId(): string {
    if (!this.client) throw new Error("the SDK has not registered a client yet");
    return this.client.client_id;
  }

  tokens(): OAuthTokens | undefined {
    return this.savedTokens;
  }

  saveTokens(tokens: OAuthTokens): void {
    this.savedTokens = tokens;
  }

  /** The access token (a Keyward key) the SDK received (throws before the exchange). */
  get accessToken(): string {
    if (!this.savedTokens) throw new Error("the SDK has no tokens yet");
    return this.savedTokens.access_token;
  }

  redirectToAuthorization(authorizationUrl: URL): void {
    this.authorizationUrls.push(authorizationUrl);
  }

  /** The most recent authorization URL (throws if the SDK never asked for one). */
  get lastAuthorizationUrl(): URL {
    const url = this.authorizationUrls.at(-1);
    if (!url) throw new Error("the SDK never called redirectToAuthorization()");
    return url;
  }

  saveCodeVerifier(codeVerifier: string): void {
    this.verifier = codeVerifier;
  }

  codeVerifier(): string {
    if (!this.verifier) throw new Error("no PKCE code verifier saved");
    return this.verifier;
  }

  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery"): void {
    this.invalidations.push(scope);
    if (scope === "all" || scope === "client") this.client = undefined;
    if (scope === "all" || scope === "tokens") this.savedTokens = undefined;
    if (scope === "all" || scope === "verifier") this.verifier = undefined;
    if (scope === "all" || scope === "discovery") this.discovery = undefined;
  }

  saveDiscoveryState(state: OAuthDiscoveryState): void {
    this.discovery = state;
  }

  discoveryState(): OAuthDiscoveryState | undefined {
    return this.discovery;
  }
}
