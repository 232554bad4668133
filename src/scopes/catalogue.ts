// The scope catalogue: the operator's list of scopes, what each one means, and which scopes each one
// implies (x:write ⇒ x:read). Parsed and validated once at start; every surface that shows, grants or
// checks a scope reads it from here.
import { z } from "zod";
import { isManagementScope } from "./management.js";

export interface ScopeDefinition {
  name: string;
  description: string;
  /** Scopes this one includes (direct only; see expandScopes for the closure). */
  implies: string[];
  /** Usable by a read-only (viewer) member. Default: the name ends in `:read`. */
  readOnly: boolean;
}

export type ScopeCatalogue = readonly ScopeDefinition[];

export const SCOPE_NAME = /^[A-Za-z0-9._-]{1,50}(:[A-Za-z0-9._-]{1,49})?$/;

const entrySchema = z
  .object({
    name: z
      .string()
      .regex(SCOPE_NAME, "scope names use letters, digits, . _ - and at most one ':' (e.g. notes:write), up to 100 characters"),
    description: z.string().trim().min(1, "a description is required").max(200, "at most 200 characters"),
    implies: z.array(z.string()).max(50).default([]),
    readOnly: z.boolean().optional(),
  })
  .strict();

export const catalogueFileSchema = z.array(entrySchema).min(1, "the catalogue must name at least one scope").max(100);

/** Names a provider reserves for itself: a catalogue may not reuse them. */
const RESERVED = new Set(["openid", "offline_access", "email", "profile", "address", "phone"]);

export class CatalogueError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("; "));
  }
}

/** Checks names, duplicates, implied scopes and cycles; throws CatalogueError listing every problem. */
export function buildCatalogue(input: unknown): ScopeCatalogue {
  const parsed = catalogueFileSchema.safeParse(input);
  if (!parsed.success) {
    throw new CatalogueError(parsed.error.issues.map((i) => `${i.path.length ? `[${i.path.join(".")}] ` : ""}${i.message}`));
  }
  const problems: string[] = [];
  const names = new Set<string>();
  for (const entry of parsed.data) {
    if (names.has(entry.name)) problems.push(`scope "${entry.name}" is listed twice`);
    if (RESERVED.has(entry.name)) problems.push(`scope "${entry.name}" is reserved by OpenID Connect`);
    if (isManagementScope(entry.name)) problems.push(`scope "${entry.name}" is reserved for Keyward's own API (docs/permissions.md)`);
    names.add(entry.name);
  }
  for (const entry of parsed.data) {
    for (const implied of entry.implies) {
      if (!names.has(implied)) problems.push(`scope "${entry.name}" implies unknown scope "${implied}"`);
      if (implied === entry.name) problems.push(`scope "${entry.name}" implies itself`);
    }
  }
  if (problems.length === 0) {
    const graph = new Map(parsed.data.map((e) => [e.name, e.implies]));
    const cycle = findCycle(graph);
    if (cycle) problems.push(`implication cycle: ${cycle.join(" → ")}`);
  }
  if (problems.length) throw new CatalogueError(problems);
  return parsed.data.map((e) => ({
    name: e.name,
    description: e.description,
    implies: [...new Set(e.implies)],
    readOnly: e.readOnly ?? e.name.endsWith(":read"),
  }));
}

function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, "visiting" | "done">();
  const path: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === "done") return null;
    if (state.get(node) === "visiting") return [...path.slice(path.indexOf(node)), node];
    state.set(node, "visiting");
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      const found = visit(next);
      if (found) return found;
    }
    path.pop();
    state.set(node, "done");
    return null;
  };
  for (const node of graph.keys()) {
    const found = visit(node);
    if (found) return found;
  }
  return null;
}

/**
 * The simple fallback (SCOPES="a:read a:write b"): descriptions from the name, and `x:write` implies
 * `x:read` when both are listed.
 */
export function catalogueFromNames(names: readonly string[]): ScopeCatalogue {
  const set = new Set(names);
  return buildCatalogue(
    [...set].map((name) => {
      const [resource, action] = name.split(":");
      const read = `${resource}:read`;
      return {
        name,
        description: action === "read" ? "Read access" : action === "write" ? "Read and write access" : "Access granted by this scope",
        implies: action === "write" && set.has(read) ? [read] : [],
      };
    }),
  );
}

export const DEFAULT_CATALOGUE: ScopeCatalogue = catalogueFromNames(["mcp:read", "mcp:write"]);

export function scopeNames(catalogue: ScopeCatalogue): string[] {
  return catalogue.map((s) => s.name);
}

/** The scopes and everything they imply (unknown names are dropped). */
export function expandScopes(catalogue: ScopeCatalogue, scopes: Iterable<string>): Set<string> {
  const byName = new Map(catalogue.map((s) => [s.name, s]));
  const out = new Set<string>();
  const stack = [...scopes];
  while (stack.length) {
    const name = stack.pop()!;
    const def = byName.get(name);
    if (!def || out.has(name)) continue;
    out.add(name);
    stack.push(...def.implies);
  }
  return out;
}

/** Does a key holding `granted` (already expanded) satisfy `required`? */
export function satisfies(granted: ReadonlySet<string>, required: string): boolean {
  return granted.has(required);
}

export function describeScope(catalogue: ScopeCatalogue, name: string): string {
  return catalogue.find((s) => s.name === name)?.description ?? "Unknown scope";
}
