// keyward auth login | set-token | whoami | logout: a key for a remote Keyward server, kept in
// ~/.config/keyward/credentials.json (0600), or taken from KEYWARD_TOKEN (which always wins).
import { InvalidArgumentError, type Command } from "commander";
import { checkFormat } from "../../keys/format.js";
import { FIRST_PARTY_CLIENT_ID } from "../../oauth/access-token-adapter.js";
import { CliError, ExitCode } from "../errors.js";
import { note, out, printJson, promptHidden, readAllStdin } from "../io.js";
import { authFailure, bearer, call, describeSource, nothingToGoOn, resolveServer, resolveTarget, TOKEN_ENV } from "../remote/client.js";
import { credentialsPath, forgetCredential, readCredentials, saveCredential } from "../remote/credentials.js";
import { openBrowser } from "../remote/browser.js";
import { oauthLogin, revokeByOAuth } from "../remote/oauth-login.js";
import { normaliseServerUrl } from "../remote/server-url.js";
import { FORMAT_PROBLEMS } from "../remote/key-problems.js";
import { whoami, type Identity } from "../remote/whoami.js";
import { withoutDatabase } from "../help.js";

const SERVER_HELP = "the Keyward server, e.g. https://keys.example.com (default: KEYWARD_SERVER, then the last server logged in to)";

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 3600) throw new InvalidArgumentError("must be a whole number of seconds between 1 and 3600");
  return n;
}

/** The identity behind a key, or null when the server refuses it (revoked, unknown…). */
async function identityOrNull(server: string, key: string): Promise<Identity | null> {
  try {
    return await whoami(server, key);
  } catch (err) {
    if (err instanceof CliError && err.exitCode === ExitCode.notFound) return null;
    throw err;
  }
}

/** whoami / logout with no server named and no key anywhere (never logged in, or logged out): exit 3, not a usage error. */
function refuseWhenNotLoggedIn(server: string | undefined): void {
  if (nothingToGoOn(server))
    throw authFailure(
      `not logged in: no stored key; run \`keyward auth login --server <url>\` or \`keyward auth set-token --server <url>\`, or set ${TOKEN_ENV}`,
    );
}

/** Revokes the OAuth key an earlier `auth login` stored, and says plainly if the server still accepts it. */
async function retireLoginKey(server: string, key: string, clientId: string | undefined, keyId: string | undefined): Promise<void> {
  const name = keyId ? `key ${keyId}` : "the key";
  await revokeByOAuth(server, key, clientId ?? FIRST_PARTY_CLIENT_ID).catch(() => false);
  const still = await identityOrNull(server, key).catch(() => undefined);
  if (still === null) {
    note(`Revoked ${name} from your earlier \`keyward auth login\`: nothing points at it any more.`);
    return;
  }
  note(
    `Warning: could not revoke ${name} from your earlier \`keyward auth login\`; it still works. Disconnect "Keyward CLI" under Connected apps on the account page, or revoke the key there.`,
  );
}

async function readKeyArgument(key: string | undefined): Promise<string> {
  if (key !== undefined && key !== "-") return key.trim();
  if (process.stdin.isTTY && process.stderr.isTTY) return (await promptHidden("API key: ")).trim();
  return (await readAllStdin()).trim();
}

export function registerAuth(program: Command): void {
  const auth = withoutDatabase(program.command("auth")).description("log in to a Keyward server and keep its key for the other commands");

  auth
    .command("login")
    .description("log in through the browser (OAuth with PKCE) and store the key this CLI receives")
    .requiredOption("--server <url>", "the Keyward server, e.g. https://keys.example.com")
    .option("--no-browser", "do not open a browser; just print the URL to open")
    .option("--timeout <seconds>", "how long to wait for the browser step", seconds, 300)
    .action(async (options: { server: string; browser: boolean; timeout: number }) => {
      const server = normaliseServerUrl(options.server);
      let previous = readCredentials().servers[server];
      const reuse =
        previous?.via === "login" && previous.clientId && previous.registrationAccessToken
          ? { clientId: previous.clientId, registrationAccessToken: previous.registrationAccessToken }
          : undefined;
      if (reuse && previous) {
        // The new key would come under the same client and grant, and revoking a token revokes its whole
        // grant (RFC 7009 as oidc-provider does it): so the stored key goes first, not after.
        note("Revoking the key stored by the last login; it is replaced by the one this login receives.");
        await revokeByOAuth(server, previous.key, reuse.clientId).catch(() => false);
        forgetCredential(server);
        previous = undefined;
      }
      const result = await oauthLogin({
        server,
        client: reuse,
        timeoutSeconds: options.timeout,
        progress: note,
        openUrl(url) {
          note("Open this URL in your browser to log in and approve the Keyward CLI:");
          note("");
          note(`  ${url}`);
          note("");
          if (options.browser) {
            note("Opening your browser…");
            openBrowser(url, () => note("Could not open a browser: open the URL above yourself."));
          }
        },
      });
      const identity = await whoami(server, result.key);
      saveCredential(server, {
        key: result.key,
        via: "login",
        clientId: result.clientId,
        registrationAccessToken: result.registrationAccessToken,
        email: identity.email,
        keyId: identity.keyId,
        savedAt: new Date().toISOString(),
      });
      if (previous?.via === "login" && previous.key !== result.key) {
        // The key this command stored last time is ours to clean up.
        await revokeByOAuth(server, previous.key, previous.clientId ?? FIRST_PARTY_CLIENT_ID, result.metadata).catch(() => false);
      }
      out(`Logged in to ${server} as ${identity.email}.`);
      note(`Key ${identity.keyId} (for ${result.resource}) is stored in ${credentialsPath()}.`);
      if (process.env[TOKEN_ENV]) note(`Note: ${TOKEN_ENV} is set and wins over the stored key.`);
    });

  auth
    .command("set-token")
    .description("store a key you already have (checked offline, then with the server)")
    .argument("[key]", "the key; omit it (or give -) to read it from stdin or a hidden prompt, which keeps it out of shell history")
    .requiredOption("--server <url>", "the Keyward server the key belongs to")
    .action(async (keyArg: string | undefined, options: { server: string }) => {
      const server = normaliseServerUrl(options.server);
      const key = await readKeyArgument(keyArg);
      const problem = checkFormat(key);
      if (problem) throw CliError.usage(`not a Keyward key: ${FORMAT_PROBLEMS[problem]}`);
      const identity = await whoami(server, key);
      const previous = readCredentials().servers[server];
      saveCredential(server, { key, via: "set-token", email: identity.email, keyId: identity.keyId, savedAt: new Date().toISOString() });
      out(`Stored key ${identity.keyId} for ${identity.email} on ${server}.`);
      note(`Saved in ${credentialsPath()}.`);
      // A key from an earlier `auth login` is the CLI's own: once nothing points at it, it is revoked
      // (as a new `auth login` does). A pasted key is the user's: it is left alone.
      if (previous?.via === "login" && previous.key !== key) await retireLoginKey(server, previous.key, previous.clientId, previous.keyId);
    });

  auth
    .command("whoami")
    .description("print who the key in use belongs to, its scopes and where it came from")
    .option("--server <url>", SERVER_HELP)
    .option("--json", "print JSON")
    .action(async (options: { server?: string; json?: boolean }) => {
      refuseWhenNotLoggedIn(options.server);
      const target = resolveTarget(options.server);
      const identity = await whoami(target.server, target.key);
      const from = target.from === "env" ? TOKEN_ENV : credentialsPath();
      if (options.json) {
        printJson({
          server: target.server,
          email: identity.email,
          userId: identity.userId,
          keyId: identity.keyId,
          keySource: identity.keySource,
          scopes: identity.scopes,
          tokenFrom: target.from,
          tokenPath: target.from === "file" ? from : null,
        });
        return;
      }
      out(`Server:  ${target.server}`);
      out(`User:    ${identity.email} (${identity.userId})`);
      out(`Key:     ${identity.keyId} (${identity.keySource})`);
      out(`Scopes:  ${identity.scopes.length ? identity.scopes.join(" ") : "full access"}`);
      out(`From:    ${describeSource(target)}`);
    });

  auth
    .command("logout")
    .description("revoke the stored key on the server and delete it from the credentials file")
    .option("--server <url>", SERVER_HELP)
    .option("--local", "only delete the key from the credentials file; do not revoke it")
    .action(async (options: { server?: string; local?: boolean }) => {
      refuseWhenNotLoggedIn(options.server);
      const server = resolveServer(options.server);
      const stored = readCredentials().servers[server];
      if (!stored) {
        const envHint = process.env[TOKEN_ENV] ? ` (${TOKEN_ENV} is never revoked or changed by logout)` : "";
        throw CliError.notFound(`not logged in to ${server}: no stored key${envHint}`);
      }
      if (!options.local) {
        // RFC 7009 as the client that owns the key (auth login's registration; the first-party
        // client for portal and CLI keys), then, if the key still works, DELETE on the JSON API.
        await revokeByOAuth(server, stored.key, stored.clientId ?? FIRST_PARTY_CLIENT_ID).catch(() => false);
        let still = await identityOrNull(server, stored.key);
        if (still) {
          await call(server, `/api/api-keys/${encodeURIComponent(still.keyId)}`, { method: "DELETE", headers: bearer(stored.key) });
          still = await identityOrNull(server, stored.key);
        }
        if (still)
          throw new CliError(
            `the server still accepts key ${still.keyId}; it stays stored. Revoke it on the account page, then run \`keyward auth logout --local\``,
          );
      }
      forgetCredential(server);
      out(
        options.local
          ? `Removed the key for ${server} from ${credentialsPath()} (not revoked).`
          : `Logged out of ${server}: the key${stored.keyId ? ` ${stored.keyId}` : ""} is revoked and removed from ${credentialsPath()}.`,
      );
      if (process.env[TOKEN_ENV]) note(`Note: ${TOKEN_ENV} is still set; logout does not touch it.`);
    });
}
