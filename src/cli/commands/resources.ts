// keyward resources add | list | show | update | remove | apply: the MCP servers Keyward protects as a
// gateway at <ISSUER>/mcp/<slug> (docs/gateway.md). Not to be confused with `keyward resource-servers`,
// the confidential clients that may introspect and revoke keys. Server-side, like `api-keys --user`:
// they work on this machine's database, and every running instance sees a change on its next request.
import type { Command } from "commander";
import { CliError } from "../errors.js";
import { withServices } from "../context.js";
import { confirm, formatTable, note, out, printJson } from "../io.js";
import { parseToolScope } from "../../resources/input.js";
import { rateLimitFromText } from "../../keys/limits/input.js";
import { shellWords, ShellWordsError } from "../shell-words.js";
import { BUILT_IN_PATH, builtInResourceUrl, resourceMetadataUrl } from "../../resources/identity.js";
import type { Resource, ResourceActing, ResourceChange, ResourceHealthView } from "../../resources/index.js";
import { transportJson, transportText, type TransportJson } from "../../resources/transport.js";
import type { Services } from "../../services.js";

/** The CLI runs on the server with database access: the operator acts. */
const BY_CLI: ResourceActing = { actor: { type: "cli", id: null } };

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** Each `--tool-scope tool=scope`, as a map (a later one for the same tool wins). */
function toolScopesOf(values: readonly string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const value of values) {
    try {
      const [tool, scope] = parseToolScope(value);
      map[tool] = scope;
    } catch (err) {
      throw CliError.usage(err instanceof Error ? err.message : String(err));
    }
  }
  return map;
}

/** `--command "<program and args>"`, split as a POSIX shell splits words (nothing expanded). */
function commandOf(text: string): string[] {
  try {
    const words = shellWords(text);
    if (words.length === 0)
      throw new ShellWordsError(
        '--command needs a program to run, e.g. --command "npx -y @modelcontextprotocol/server-filesystem /srv/files"',
      );
    return words;
  } catch (err) {
    if (err instanceof ShellWordsError) throw CliError.usage(`--command: ${err.message}`);
    throw err;
  }
}

/** Each `--env NAME=VALUE`, as a map (a later one for the same name wins); the store checks the names. */
function envOf(values: readonly string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const value of values) {
    const at = value.indexOf("=");
    if (at <= 0) throw CliError.usage(`--env takes NAME=VALUE, e.g. --env GITHUB_TOKEN=ghp_… (got "${value.slice(0, at < 0 ? 40 : at)}")`);
    map[value.slice(0, at)] = value.slice(at + 1);
  }
  return map;
}

/** The store's refusals in the CLI's terms: bad input is exit 2, an unknown slug exit 3. */
async function asCliError(err: unknown): Promise<unknown> {
  const { ResourceInputError, ResourceNotFoundError } = await import("../../resources/store.js");
  const { ResourcesFileError } = await import("../../resources/file.js");
  if (err instanceof ResourceInputError || err instanceof ResourcesFileError) return CliError.usage(err.message);
  if (err instanceof ResourceNotFoundError) return CliError.notFound(err.message);
  return err;
}

function withResources<T>(cmd: Command, fn: (services: Services) => Promise<T>): Promise<T> {
  return withServices(cmd, async (services) => {
    try {
      return await fn(services);
    } catch (err) {
      throw await asCliError(err);
    }
  });
}

/** One resource in --json output (list, show, add, update, remove). */
export interface ResourceJson {
  id: string | null;
  /** Null for the built-in resource. */
  slug: string | null;
  name: string;
  url: string;
  /** RFC 9728 metadata URL (the 401 challenge names it). */
  metadataUrl: string;
  /** Null for the built-in resource (Keyward's own tools) and for stdio and external resources. */
  upstream: string | null;
  /** How it is served; null for the built-in resource. */
  transport: TransportJson | null;
  /** A resource server's (external) credentials' client id; null otherwise (the secret is never shown again). */
  credentialId: string | null;
  toolScopes: Record<string, string>;
  /** Requests per minute each key may send here (issue 28); null: no limit. */
  keyRateLimit: number | null;
  builtIn: boolean;
  createdAt: string | null;
  updatedAt: string | null;
}

function toJson(r: Resource, baseUrl: string): ResourceJson {
  return {
    id: r.id,
    slug: r.slug,
    name: r.name,
    url: r.url,
    metadataUrl: resourceMetadataUrl(baseUrl, r.slug),
    upstream: r.transport.kind === "http" ? r.transport.upstream : null,
    transport: transportJson(r.transport),
    credentialId: r.credentialId,
    toolScopes: { ...r.toolScopes },
    keyRateLimit: r.keyRateLimit,
    builtIn: false,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

async function builtInJson(baseUrl: string): Promise<ResourceJson> {
  const { TOOL_SCOPES } = await import("../../mcp/tools.js");
  const url = builtInResourceUrl(baseUrl);
  return {
    id: null,
    slug: null,
    name: "Keyward MCP server (built-in)",
    url,
    metadataUrl: `${baseUrl}/.well-known/oauth-protected-resource${BUILT_IN_PATH}`,
    upstream: null,
    transport: null,
    credentialId: null,
    toolScopes: { ...TOOL_SCOPES },
    keyRateLimit: null,
    builtIn: true,
    createdAt: null,
    updatedAt: null,
  };
}

const credentialsText = (c: { clientId: string; clientSecret: string }) => `client id:     ${c.clientId}\nclient secret: ${c.clientSecret}`;

const toolScopesText = (m: Readonly<Record<string, string>>) =>
  Object.keys(m).length
    ? Object.entries(m)
        .map(([tool, scope]) => `${tool}=${scope}`)
        .join(" ")
    : "none";

/** --key-rate-limit's value: a whole number of requests per minute, or a usage error with words. */
function keyRateLimitOf(text: string): number {
  const parsed = rateLimitFromText(text);
  if (!parsed.ok) throw CliError.usage(parsed.message);
  if (parsed.value === null) throw CliError.usage("--key-rate-limit needs a number");
  return parsed.value;
}

/** 2025-01-02T13:45:12.345Z → 2025-01-02 13:45 */
const when = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;

function healthText(h: ResourceHealthView | null): string {
  if (!h || (!h.lastOkAt && !h.lastErrorAt)) return "not reached yet";
  const ok = h.lastOkAt ? `answered ${when(h.lastOkAt)} UTC${h.latencyMs !== null ? ` in ${h.latencyMs} ms` : ""}` : "never answered";
  const failing = h.lastErrorAt && (!h.lastOkAt || h.lastErrorAt > h.lastOkAt);
  return failing ? `failing since ${when(h.lastErrorAt!)} UTC: ${h.lastError ?? "unknown error"} (last ${ok})` : ok;
}

function details(r: ResourceJson): string[] {
  return [
    `slug:        ${r.slug ?? "(built-in)"}`,
    `name:        ${r.name}`,
    `url:         ${r.url}`,
    `metadata:    ${r.metadataUrl}`,
    `served by:   ${r.transport ? transportText(r.transport) : "(Keyward's own tools)"}`,
    `tool scopes: ${toolScopesText(r.toolScopes)}`,
    `rate limit:  ${r.keyRateLimit === null ? "none" : `${r.keyRateLimit} requests per minute per key`}`,
  ];
}

interface JsonOption {
  json?: boolean;
}

interface AddOptions extends JsonOption {
  name: string;
  upstream?: string;
  command?: string;
  env?: string[];
  cwd?: string;
  external?: string;
  toolScope?: string[];
}

interface UpdateOptions extends JsonOption {
  name?: string;
  upstream?: string;
  command?: string;
  env?: string[];
  clearEnv?: boolean;
  /** A directory, or false when --no-cwd is given. */
  cwd?: string | false;
  toolScope?: string[];
  /** False when --no-tool-scopes is given. */
  toolScopes: boolean;
  removeToolScope?: string[];
  keyRateLimit?: string;
  clearKeyRateLimit?: boolean;
}

interface RemoveOptions extends JsonOption {
  yes?: boolean;
}

interface ApplyOptions extends JsonOption {
  dryRun?: boolean;
}

export function registerResources(program: Command): void {
  const resources = program
    .command("resources")
    .description("manage the MCP servers Keyward protects as a gateway at <ISSUER>/mcp/<slug> (not resource-servers)");

  resources
    .command("add")
    .description("protect an MCP server: it is served at <ISSUER>/mcp/<slug> from the next request on, on every instance")
    .argument("<slug>", "the last path segment of its URL: lowercase letters, digits, inner hyphens (e.g. notes)")
    .requiredOption("--name <name>", 'its display name, e.g. "Team notes" (consent page, key list)')
    .option("--upstream <url>", "where the MCP server listens, e.g. http://127.0.0.1:8080/mcp")
    .option(
      "--command <program and args>",
      'a stdio MCP server the gateway starts per user session, e.g. "npx -y @modelcontextprotocol/server-filesystem /srv/files" (split like a shell splits words: quotes and backslashes, nothing expanded)',
    )
    .option("--env <NAME=VALUE>", "stdio: an environment variable for the program (repeatable)", collect)
    .option("--cwd <dir>", "stdio: the program's working directory (absolute)")
    .option(
      "--external <url>",
      "a separate resource server that verifies keys itself, at its own public URL (its keys' audience): prints its credentials once (docs/resource-servers.md)",
    )
    .option("--tool-scope <tool=scope>", "a tools/call of <tool> needs <scope>, e.g. notes_add=mcp:write (repeatable)", collect)
    .option("--key-rate-limit <n>", "each key may send at most n requests per minute here (docs/key-lifecycle.md)")
    .option("--json", "print the resource as JSON (an external one with its credentials: clientId, clientSecret)")
    .action(async (slug: string, options: AddOptions & { keyRateLimit?: string }, cmd: Command) => {
      const toolScopes = toolScopesOf(options.toolScope ?? []);
      const keyRateLimit = options.keyRateLimit === undefined ? null : keyRateLimitOf(options.keyRateLimit);
      const input = {
        slug,
        name: options.name,
        upstream: options.upstream,
        toolScopes,
        keyRateLimit,
        ...(options.command !== undefined ? { command: commandOf(options.command) } : {}),
        ...(options.env !== undefined ? { env: envOf(options.env) } : {}),
        ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
        ...(options.external !== undefined ? { external: options.external } : {}),
      };
      const { added, baseUrl } = await withResources(cmd, async ({ resources, config }) => ({
        added: await resources.add(input, BY_CLI),
        baseUrl: config.baseUrl,
      }));
      const { credentials } = added;
      if (options.json) return printJson({ ...toJson(added, baseUrl), ...(credentials ? { credentials } : {}) });
      if (credentials) {
        out(credentialsText(credentials));
        note(
          `Added resource server ${added.slug} "${added.name}" at ${added.url}. Give it these credentials now: the secret is not shown again (\`keyward resources credentials ${added.slug} --rotate\` makes new ones). See docs/resource-servers.md.`,
        );
        return;
      }
      out(added.url);
      note(`Added resource ${added.slug} "${added.name}": MCP hosts connect to ${added.url} (docs/gateway.md).`);
    });

  resources
    .command("credentials")
    .description("a resource server's credentials (--external): show its client id, or --rotate to replace them")
    .argument("<slug>", "the resource's slug")
    .option("--rotate", "make new credentials and print them once: the old ones stop working at once, on every instance")
    .option("--json", "print JSON: { slug, clientId, clientSecret? }")
    .action(async (slug: string, options: JsonOption & { rotate?: boolean }, cmd: Command) => {
      const done = await withResources(cmd, async ({ resources }) => {
        if (options.rotate) {
          const { resource, credentials } = await resources.rotateCredentials(slug, BY_CLI);
          return { slug: resource.slug, ...credentials };
        }
        const resource = await resources.get(slug);
        if (!resource.credentialId) throw CliError.usage(`${slug} is not a resource server (--external): it has no credentials`);
        return { slug: resource.slug, clientId: resource.credentialId };
      });
      if (options.json) return printJson(done);
      if ("clientSecret" in done) {
        out(credentialsText(done));
        note(`New credentials for ${slug}: the old ones no longer work. The secret is not shown again.`);
        return;
      }
      out(`client id: ${done.clientId}`);
      note(`The secret is not kept: \`keyward resources credentials ${slug} --rotate\` makes new credentials.`);
    });

  resources
    .command("list")
    .description("list the protected resources, the built-in /mcp first")
    .option("--json", "print a JSON array (the built-in one has builtIn: true and slug null)")
    .action(async (options: JsonOption, cmd: Command) => {
      const { list, baseUrl } = await withResources(cmd, async ({ resources, config }) => ({
        list: await resources.list(),
        baseUrl: config.baseUrl,
      }));
      const rows = [await builtInJson(baseUrl), ...list.map((r) => toJson(r, baseUrl))];
      if (options.json) return printJson(rows);
      out(
        formatTable(
          ["SLUG", "NAME", "URL", "UPSTREAM", "TOOL SCOPES"],
          rows.map((r) => [
            r.slug ?? "(built-in)",
            r.name,
            r.url,
            r.transport ? transportText(r.transport) : "-",
            toolScopesText(r.toolScopes),
          ]),
        ),
      );
    });

  resources
    .command("show")
    .description("show one resource, its upstream's health and how many active keys are bound to it")
    .argument("<slug>", "the resource's slug")
    .option("--json", "print JSON: the resource with health and activeKeys")
    .action(async (slug: string, options: JsonOption, cmd: Command) => {
      const { resource, health, activeKeys, baseUrl } = await withResources(cmd, async ({ resources, keys, config }) => {
        const resource = await resources.get(slug);
        return {
          resource,
          health: await resources.health(resource.id),
          activeKeys: await keys.countBoundTo(resource.url),
          baseUrl: config.baseUrl,
        };
      });
      const json = toJson(resource, baseUrl);
      if (options.json) return printJson({ ...json, health, activeKeys });
      out(
        [
          ...details(json),
          `health:      ${healthText(health)}`,
          `keys:        ${activeKeys} active bound to it (keys for every resource work here too)`,
          `created:     ${when(json.createdAt!)} UTC, changed ${when(json.updatedAt!)} UTC`,
        ].join("\n"),
      );
    });

  resources
    .command("update")
    .description("change a resource's name, how it is served or its tool scopes (keys bound to it keep working)")
    .argument("<slug>", "the resource's slug (it cannot change: keys are bound to its URL)")
    .option("--name <name>", "a new display name")
    .option("--upstream <url>", "a new upstream URL (a stdio resource becomes an http one)")
    .option("--command <program and args>", "a new stdio command, split like --command of add (an http resource becomes a stdio one)")
    .option("--env <NAME=VALUE>", "stdio: set or change an environment variable (repeatable)", collect)
    .option("--clear-env", "stdio: drop every environment variable first (then any --env is added)")
    .option("--cwd <dir>", "stdio: a new working directory (absolute)")
    .option("--no-cwd", "stdio: no working directory of its own (Keyward's)")
    .option("--tool-scope <tool=scope>", "add or change a tool's scope (repeatable)", collect)
    .option("--remove-tool-scope <tool>", "a tool no longer needs a scope (repeatable)", collect)
    .option("--no-tool-scopes", "drop every tool scope first (then any --tool-scope is added)")
    .option("--key-rate-limit <n>", "each key may send at most n requests per minute here")
    .option("--clear-key-rate-limit", "remove the per-key rate limit")
    .option("--json", "print the resource as JSON")
    .action(async (slug: string, options: UpdateOptions, cmd: Command) => {
      const adding = toolScopesOf(options.toolScope ?? []);
      const removing = options.removeToolScope ?? [];
      const touchesScopes = Object.keys(adding).length > 0 || removing.length > 0 || !options.toolScopes;
      if (options.keyRateLimit !== undefined && options.clearKeyRateLimit)
        throw CliError.usage("give --key-rate-limit or --clear-key-rate-limit, not both");
      const rate = options.clearKeyRateLimit ? null : options.keyRateLimit === undefined ? undefined : keyRateLimitOf(options.keyRateLimit);
      const settingEnv = envOf(options.env ?? []);
      const touchesEnv = options.env !== undefined || options.clearEnv === true;
      const command = options.command === undefined ? undefined : commandOf(options.command);
      if (
        options.name === undefined &&
        options.upstream === undefined &&
        command === undefined &&
        !touchesEnv &&
        options.cwd === undefined &&
        !touchesScopes &&
        rate === undefined
      )
        throw CliError.usage(
          "nothing to change: give --name, --upstream, --command, --env, --clear-env, --cwd, --no-cwd, --tool-scope, --remove-tool-scope, --no-tool-scopes, --key-rate-limit or --clear-key-rate-limit",
        );
      const { updated, baseUrl } = await withResources(cmd, async ({ resources, config }) => {
        const change: ResourceChange = {};
        if (options.name !== undefined) change.name = options.name;
        if (options.upstream !== undefined) change.upstream = options.upstream;
        if (rate !== undefined) change.keyRateLimit = rate;
        if (command !== undefined) change.command = command;
        if (options.cwd !== undefined) change.cwd = options.cwd === false ? null : options.cwd;
        if (touchesEnv) {
          const current = await resources.get(slug);
          const was = current.transport.kind === "stdio" && !options.clearEnv ? current.transport.env : {};
          change.env = { ...was, ...settingEnv };
        }
        if (touchesScopes) {
          const current = await resources.get(slug);
          const map: Record<string, string> = options.toolScopes ? { ...current.toolScopes } : {};
          for (const tool of removing) {
            if (!Object.hasOwn(map, tool)) throw CliError.usage(`${slug} has no tool scope for "${tool}"`);
            delete map[tool];
          }
          change.toolScopes = { ...map, ...adding };
        }
        return { updated: await resources.update(slug, change, BY_CLI), baseUrl: config.baseUrl };
      });
      if (options.json) return printJson(toJson(updated, baseUrl));
      out(details(toJson(updated, baseUrl)).join("\n"));
      note(`Updated resource ${slug}: every instance uses the change from its next request.`);
    });

  resources
    .command("remove")
    .description("remove a resource: its URL answers 404 and every key bound to it is revoked")
    .argument("<slug>", "the resource's slug")
    .option("-y, --yes", "do not ask (needed when not run in a terminal)")
    .option("--json", "print JSON: { resource, keysRevoked }")
    .action(async (slug: string, options: RemoveOptions, cmd: Command) => {
      if (!options.yes && !(process.stdin.isTTY && process.stderr.isTTY))
        throw CliError.usage(`removing ${slug} revokes every key bound to it: pass --yes to confirm without a terminal`);
      const { removed, baseUrl } = await withResources(cmd, async ({ resources, keys, config }) => {
        if (!options.yes) {
          const resource = await resources.get(slug);
          const bound = await keys.countBoundTo(resource.url);
          const sure = await confirm(
            `Remove ${slug} ("${resource.name}", ${resource.url}) and revoke the ${bound} active key${bound === 1 ? "" : "s"} bound to it? [y/N] `,
          );
          if (!sure) throw new CliError(`${slug} was not removed`);
        }
        return { removed: await resources.remove(slug, BY_CLI), baseUrl: config.baseUrl };
      });
      const { resource, keysRevoked } = removed;
      if (options.json) return printJson({ resource: toJson(resource, baseUrl), keysRevoked });
      out(`Removed resource ${resource.slug} "${resource.name}"; revoked ${keysRevoked} key${keysRevoked === 1 ? "" : "s"} bound to it.`);
    });

  resources
    .command("apply")
    .description("add and update the resources a RESOURCES_FILE declares, as the server does at start")
    .argument(
      "<file>",
      'a JSON file: { "resources": [ { "slug", "name", "upstream" or "command": [argv] with "env": {…} and "cwd", "toolScopes": { tool: scope } } ] }',
    )
    .option("--dry-run", "print what would change, change nothing")
    .option("--json", "print JSON: { dryRun, added, updated: [{ slug, changed }], unchanged, notInFile }")
    .action(async (file: string, options: ApplyOptions, cmd: Command) => {
      const done = await withResources(cmd, async ({ resources, config }) => {
        const { readResourcesFile, planResources, applyResources } = await import("../../resources/file.js");
        const declared = readResourcesFile(file, config.scopes);
        if (!options.dryRun) return applyResources(resources, declared, BY_CLI);
        const plan = planResources(declared, await resources.list());
        return {
          added: plan.add.map((d) => d.slug),
          updated: plan.update.map((u) => ({ slug: u.declared.slug, changed: u.changed })),
          unchanged: plan.unchanged,
          notInFile: plan.notInFile,
        };
      });
      const dryRun = options.dryRun === true;
      if (options.json) return printJson({ dryRun, ...done });
      const [add, update] = dryRun ? ["would add", "would update"] : ["added", "updated"];
      const lines = [
        ...done.added.map((slug) => `${add} ${slug}`),
        ...done.updated.map((u) => `${update} ${u.slug} (${u.changed.join(", ")})`),
        ...done.unchanged.map((slug) => `unchanged ${slug}`),
      ];
      out(lines.length ? lines.join("\n") : "The file declares no resources.");
      if (done.notInFile.length)
        note(`Not in the file, left as they are: ${done.notInFile.join(", ")} (remove them with \`keyward resources remove <slug>\`).`);
    });
}
