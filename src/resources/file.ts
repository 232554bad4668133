// RESOURCES_FILE: resources declared in a JSON file, applied at every start (src/server.ts) and by
// `keyward resources apply <file>`. Declarative but not destructive: missing resources are added and
// changed ones updated (nothing is written, and no audit event recorded, for one that already matches);
// resources that are only in the database are left alone (removing revokes keys: that stays an
// explicit `keyward resources remove`). Several instances may start at once with the same file: a
// resource another one added a moment ago is compared and updated like any other.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { resourceInputSchema, type ResourceChange } from "./input.js";
import type { Transport } from "./transport.js";
import { ResourceInputError, type Resource, type ResourceActing, type ResourceStore } from "./store.js";

export const MAX_FILE_RESOURCES = 1000;

/** `{ "resources": [ { "slug", "name", "upstream", "toolScopes": { tool: scope }, "keyRateLimit": n } ] }` */
export const resourcesFileSchema = z
  .object({
    resources: z.array(resourceInputSchema).max(MAX_FILE_RESOURCES, `At most ${MAX_FILE_RESOURCES} resources`),
  })
  .strict();

/** One declared resource, as validated (name trimmed, upstream normalised, tool scopes a plain map). */
export type DeclaredResource = z.output<typeof resourceInputSchema>;

/** The file cannot be read, is not JSON, or declares something invalid: the message names the file and the entry. */
export class ResourcesFileError extends Error {}

/** `["resources", 2, "upstream"]` → `resources[2].upstream` */
function pathInWords(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, part) => (typeof part === "number" ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)),
    "",
  );
}

/**
 * Validates a parsed file against this server's scopes. Throws ResourcesFileError with the first
 * problem, e.g. `resources[2].upstream: The upstream must be an http:// or https:// URL`.
 */
export function parseResourcesFile(value: unknown, scopes: readonly string[]): DeclaredResource[] {
  const parsed = resourcesFileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = pathInWords(issue.path);
    throw new ResourcesFileError(where ? `${where}: ${issue.message}` : issue.message);
  }
  const seen = new Map<string, number>();
  parsed.data.resources.forEach((r, i) => {
    const first = seen.get(r.slug);
    if (first !== undefined) throw new ResourcesFileError(`resources[${i}].slug: "${r.slug}" is declared twice (also resources[${first}])`);
    seen.set(r.slug, i);
    for (const [tool, scope] of Object.entries(r.toolScopes)) {
      if (!scopes.includes(scope))
        throw new ResourcesFileError(
          `resources[${i}].toolScopes.${tool}: unknown scope "${scope}" (this server's scopes: ${scopes.join(", ")})`,
        );
    }
  });
  return parsed.data.resources;
}

/** Reads and validates a resources file; every problem is a ResourcesFileError naming the file. */
export function readResourcesFile(file: string, scopes: readonly string[]): DeclaredResource[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ResourcesFileError(`RESOURCES_FILE ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ResourcesFileError(`RESOURCES_FILE ${file}: not valid JSON (${err instanceof SyntaxError ? err.message : String(err)})`);
  }
  try {
    return parseResourcesFile(value, scopes);
  } catch (err) {
    if (err instanceof ResourcesFileError) throw new ResourcesFileError(`RESOURCES_FILE ${file}: ${err.message}`);
    throw err;
  }
}

type Field = "name" | "transport" | "toolScopes" | "keyRateLimit";

export interface ResourcesPlan {
  add: DeclaredResource[];
  update: { declared: DeclaredResource; changed: Field[] }[];
  unchanged: string[];
  /** Slugs in the database but not in the file: left as they are. */
  notInFile: string[];
}

const sameMap = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>) => {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
};

/** Whether the declaration names the transport the resource has (input.ts has checked it names exactly one). */
function sameTransport(t: Transport, d: DeclaredResource): boolean {
  switch (t.kind) {
    case "http":
      return d.upstream === t.upstream;
    case "external":
      return d.external === t.url;
    case "stdio":
      return (
        d.command !== undefined &&
        d.command.length === t.command.length &&
        d.command.every((part, i) => part === t.command[i]) &&
        sameMap(d.env ?? {}, t.env) &&
        (d.cwd ?? null) === t.cwd
      );
  }
}

/** What differs between a stored resource and its declaration; empty when they match. */
export function changedFields(stored: Resource, declared: DeclaredResource): Field[] {
  const changed: Field[] = [];
  if (stored.name !== declared.name) changed.push("name");
  if (!sameTransport(stored.transport, declared)) changed.push("transport");
  if (!sameMap(stored.toolScopes, declared.toolScopes)) changed.push("toolScopes");
  // Declared like the rest: a file without keyRateLimit means no limit on the resource's keys.
  if (stored.keyRateLimit !== (declared.keyRateLimit ?? null)) changed.push("keyRateLimit");
  return changed;
}

export function planResources(declared: readonly DeclaredResource[], stored: readonly Resource[]): ResourcesPlan {
  const bySlug = new Map(stored.map((r) => [r.slug, r]));
  const plan: ResourcesPlan = { add: [], update: [], unchanged: [], notInFile: [] };
  for (const d of declared) {
    const current = bySlug.get(d.slug);
    if (!current) plan.add.push(d);
    else {
      const changed = changedFields(current, d);
      if (changed.length) plan.update.push({ declared: d, changed });
      else plan.unchanged.push(d.slug);
    }
  }
  const inFile = new Set(declared.map((d) => d.slug));
  plan.notInFile = stored.filter((r) => !inFile.has(r.slug)).map((r) => r.slug);
  return plan;
}

export interface AppliedResources {
  added: string[];
  updated: { slug: string; changed: Field[] }[];
  unchanged: string[];
  notInFile: string[];
}

const changeOf = (d: DeclaredResource, changed: readonly Field[]): ResourceChange => ({
  ...(changed.includes("name") ? { name: d.name } : {}),
  ...(changed.includes("toolScopes") ? { toolScopes: d.toolScopes } : {}),
  ...(changed.includes("keyRateLimit") ? { keyRateLimit: d.keyRateLimit ?? null } : {}),
  ...(changed.includes("transport")
    ? d.command
      ? { command: d.command, env: d.env ?? {}, cwd: d.cwd ?? null }
      : d.external
        ? { external: d.external }
        : { upstream: d.upstream }
    : {}),
});

/** Brings the stored resources in line with the declarations (see the header); returns what it did. */
export async function applyResources(
  store: ResourceStore,
  declared: readonly DeclaredResource[],
  by: ResourceActing,
): Promise<AppliedResources> {
  const plan = planResources(declared, await store.list());
  const result: AppliedResources = { added: [], updated: [], unchanged: [...plan.unchanged], notInFile: plan.notInFile };

  const update = async (d: DeclaredResource, changed: Field[]) => {
    await store.update(d.slug, changeOf(d, changed), by);
    result.updated.push({ slug: d.slug, changed });
  };

  for (const d of plan.add) {
    try {
      await store.add(d, by);
      result.added.push(d.slug);
    } catch (err) {
      // Another instance (or an operator) added it since we listed: compare with what is there now.
      const now = await store.find(d.slug);
      if (!now || !(err instanceof ResourceInputError || isUniqueViolation(err))) throw err;
      const changed = changedFields(now, d);
      if (changed.length) await update(d, changed);
      else result.unchanged.push(d.slug);
    }
  }
  for (const { declared: d, changed } of plan.update) await update(d, changed);
  return result;
}

const isUniqueViolation = (err: unknown) => (err as { code?: string } | null)?.code === "P2002";
