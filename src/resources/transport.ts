// How a resource is served, read from its row: exactly one of
// - http: the gateway proxies <ISSUER>/mcp/<slug> to the MCP server at `upstream` (src/gateway/proxy.ts);
// - stdio: the gateway starts `command` per user and bridges Streamable HTTP to its stdin/stdout;
// - external: a separate resource server at `url` verifies keys itself (introspection, the revocation
//   feed); Keyward serves nothing for it at <ISSUER>/mcp/<slug>, and its keys' audience is `url`.
import type { Resource as ResourceRow } from "../generated/sqlite/client.js";

export type Transport =
  | { kind: "http"; upstream: string }
  | { kind: "stdio"; command: readonly string[]; env: Readonly<Record<string, string>>; cwd: string | null }
  | { kind: "external"; url: string };

export type TransportKind = Transport["kind"];

/** The row's transport; a row that names none (hand-edited) reads as an http upstream nobody can reach. */
export function transportOf(row: Pick<ResourceRow, "upstream" | "command" | "env" | "cwd" | "external">): Transport {
  if (row.external) return { kind: "external", url: row.external };
  if (row.command)
    return { kind: "stdio", command: Object.freeze(stringArray(row.command)), env: Object.freeze(stringMap(row.env)), cwd: row.cwd };
  return { kind: "http", upstream: row.upstream ?? "" };
}

/** The columns a transport is stored in (the others cleared, so a resource never has two). */
export function transportColumns(t: Transport) {
  return {
    upstream: t.kind === "http" ? t.upstream : null,
    command: t.kind === "stdio" ? JSON.stringify(t.command) : null,
    env: t.kind === "stdio" ? JSON.stringify(t.env) : "{}",
    cwd: t.kind === "stdio" ? t.cwd : null,
    external: t.kind === "external" ? t.url : null,
  };
}

function stringArray(json: string): string[] {
  try {
    const value: unknown = JSON.parse(json);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
  } catch {
    return [];
  }
}

/** JSON object of strings; anything else (a hand-edited row) counts as empty rather than a crash. */
export function stringMap(json: string): Record<string, string> {
  try {
    const value: unknown = JSON.parse(json);
    if (!value || typeof value !== "object" || Array.isArray(value)) return {};
    return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === "string"));
  } catch {
    return {};
  }
}

/** A command as a person would type it: parts with spaces or quotes are quoted. */
export const commandText = (command: readonly string[]): string =>
  command.map((part) => (/^[\w@%+=:,./-]+$/.test(part) ? part : `'${part.replaceAll("'", `'\\''`)}'`)).join(" ");

/** The transport as pages and the CLI's --json show it: environment names, never values (a value may be a token). */
export type TransportJson =
  | { kind: "http"; upstream: string }
  | { kind: "stdio"; command: string[]; envNames: string[]; cwd: string | null }
  | { kind: "external"; url: string };

export function transportJson(t: Transport): TransportJson {
  switch (t.kind) {
    case "http":
      return { kind: t.kind, upstream: t.upstream };
    case "stdio":
      return { kind: t.kind, command: [...t.command], envNames: Object.keys(t.env), cwd: t.cwd };
    case "external":
      return { kind: t.kind, url: t.url };
  }
}

/** One line for pages and the CLI. */
export function transportText(t: TransportJson): string {
  switch (t.kind) {
    case "http":
      return t.upstream;
    case "stdio":
      return `stdio: ${commandText(t.command)}${t.envNames.length ? ` (env ${t.envNames.join(", ")})` : ""}${t.cwd ? ` in ${t.cwd}` : ""}`;
    case "external":
      return `resource server at ${t.url}`;
  }
}
