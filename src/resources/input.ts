// What an operator may say about a resource: validated the same way by the CLI, RESOURCES_FILE and
// any page, with messages in words.
import { z } from "zod";
import { rateLimitSchema } from "../keys/limits/input.js";
import { SLUG } from "./identity.js";

export const MAX_TOOL_SCOPES = 200;

export const slugSchema = z
  .string()
  .regex(SLUG, "A slug is 1 to 40 lowercase letters, digits or inner hyphens (e.g. notes, github-issues)")
  .refine((s) => s !== "mcp", "The slug mcp names Keyward's own MCP endpoint: choose another");

export const nameSchema = z
  .string()
  .transform((s) => s.trim())
  .pipe(
    z
      .string()
      .min(1, "A name is required")
      .max(100, "A name is at most 100 characters")
      .regex(/^[^\p{Cc}\p{Cf}\p{Cs}]*$/u, "A name must not contain control characters"),
  );

/**
 * The upstream MCP server's URL: http or https, no user name or password (they would show wherever
 * the URL is listed; the gateway sends its own identity headers instead), no fragment.
 */
export const upstreamSchema = z
  .string()
  .max(2000, "An upstream URL is at most 2000 characters")
  .refine((s) => URL.canParse(s), "The upstream must be an absolute http(s) URL, e.g. http://127.0.0.1:8080/mcp")
  .transform((s) => new URL(s))
  .refine((u) => u.protocol === "http:" || u.protocol === "https:", "The upstream must be an http:// or https:// URL")
  .refine((u) => !u.username && !u.password, "The upstream URL must not carry a user name or password")
  .refine((u) => !u.hash, "The upstream URL must not have a #fragment")
  .transform((u) => u.href);

/** MCP tool names (2026-07-28: 1–128 of letters, digits, _ - . /). */
export const toolNameSchema = z.string().regex(/^[A-Za-z0-9_./-]{1,128}$/, "A tool name is 1 to 128 letters, digits or _ - . /");

/** Tool → the scope a tools/call of it needs; which scopes exist is checked against the catalogue by the store. */
export const toolScopesSchema = z
  .record(z.string(), z.string().max(100))
  .superRefine((m, ctx) => {
    // Checked here rather than as the record's key schema: zod reports a bad key only as "Invalid key in record".
    for (const tool of Object.keys(m)) {
      const problem = toolNameSchema.safeParse(tool).error?.issues[0]?.message;
      if (problem) ctx.addIssue({ code: "custom", path: [tool], message: `${problem} (got ${JSON.stringify(tool.slice(0, 140))})` });
    }
  })
  .refine((m) => Object.keys(m).length <= MAX_TOOL_SCOPES, `At most ${MAX_TOOL_SCOPES} tool scopes`);

/** stdio: the program and its arguments, as a list (no shell: nothing is expanded or interpreted). */
export const commandSchema = z
  .array(z.string().min(1, "A command's parts must not be empty").max(4000, "A command's part is at most 4000 characters"))
  .min(1, 'A command names a program to run, e.g. ["npx", "-y", "@modelcontextprotocol/server-filesystem", "/srv/files"]')
  .max(64, "A command has at most 64 parts")
  .refine((parts) => parts.every((p) => !p.includes("\0")), "A command must not contain NUL characters");

/** stdio: extra environment variables for the program (names as POSIX shells accept them). */
export const envSchema = z
  .record(z.string(), z.string().max(8000, "An environment value is at most 8000 characters"))
  .superRefine((m, ctx) => {
    for (const [name, value] of Object.entries(m)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(name))
        ctx.addIssue({ code: "custom", path: [name], message: `Not an environment variable name: ${JSON.stringify(name.slice(0, 140))}` });
      else if (/^KEYWARD_/i.test(name))
        ctx.addIssue({ code: "custom", path: [name], message: `KEYWARD_* variables are set by the gateway itself (got ${name})` });
      if (value.includes("\0"))
        ctx.addIssue({ code: "custom", path: [name], message: "An environment value must not contain NUL characters" });
    }
  })
  .refine((m) => Object.keys(m).length <= 100, "At most 100 environment variables");

/** stdio: the program's working directory, an absolute path. */
export const cwdSchema = z
  .string()
  .max(4000, "A working directory is at most 4000 characters")
  .refine((s) => s.startsWith("/") && !s.includes("\0"), "The working directory must be an absolute path, e.g. /srv/mcp");

/**
 * external: the separate resource server's public URL, the audience its keys are bound to. https, or
 * http on a loopback address (a server on the same machine); no credentials, query or fragment.
 */
export const externalSchema = z
  .string()
  .max(2000, "A resource server URL is at most 2000 characters")
  .refine((s) => URL.canParse(s), "The resource server's URL must be an absolute https URL, e.g. https://files.example.com/mcp")
  .transform((s) => new URL(s))
  .refine(
    (u) => u.protocol === "https:" || (u.protocol === "http:" && /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/.test(u.hostname)),
    "The resource server's URL must be https:// (http:// only on a loopback address)",
  )
  .refine(
    (u) => !u.username && !u.password && !u.search && !u.hash,
    "The resource server's URL must not carry credentials, a ?query or a #fragment",
  )
  .transform((u) => u.href);

const TRANSPORTS = ["upstream", "command", "external"] as const;
const oneTransport = (r: { upstream?: unknown; command?: unknown; external?: unknown }) =>
  TRANSPORTS.filter((t) => r[t] !== undefined).length === 1;
const ONE_TRANSPORT =
  "A resource is served one way: give exactly one of upstream (an HTTP MCP server), command (a stdio MCP server) or external (a separate resource server)";
const stdioOnly = (r: { command?: unknown; env?: unknown; cwd?: unknown }) =>
  r.command !== undefined || (r.env === undefined && r.cwd === undefined);
const STDIO_ONLY = "env and cwd apply to a stdio resource (one with a command) only";

export const resourceInputSchema = z
  .object({
    slug: slugSchema,
    name: nameSchema,
    upstream: upstreamSchema.optional(),
    command: commandSchema.optional(),
    env: envSchema.optional(),
    cwd: cwdSchema.optional(),
    external: externalSchema.optional(),
    toolScopes: toolScopesSchema.default({}),
    /** Requests per minute each key may send to this resource (issue 28); null or absent: no limit. */
    keyRateLimit: rateLimitSchema.nullable().optional(),
  })
  .strict()
  .refine(oneTransport, ONE_TRANSPORT)
  .refine(stdioOnly, STDIO_ONLY);

export type ResourceInput = z.input<typeof resourceInputSchema>;

export const resourceChangeSchema = z
  .object({
    name: nameSchema.optional(),
    /** Serves the resource from this HTTP upstream (from now on: it may have been stdio). */
    upstream: upstreamSchema.optional(),
    /** Serves the resource by starting this stdio program (from now on: it may have been http). */
    command: commandSchema.optional(),
    /** stdio: replaces the whole map. */
    env: envSchema.optional(),
    cwd: cwdSchema.nullable().optional(),
    /** external: cannot change (it is the audience of the resource's keys): remove and add instead. */
    external: externalSchema.optional(),
    /** Replaces the whole map. */
    toolScopes: toolScopesSchema.optional(),
    /** null removes the limit. */
    keyRateLimit: rateLimitSchema.nullable().optional(),
  })
  .strict()
  .refine((c) => TRANSPORTS.filter((t) => c[t] !== undefined).length <= 1, ONE_TRANSPORT);

export type ResourceChange = z.input<typeof resourceChangeSchema>;

/** `tool=scope`, as the CLI's --tool-scope takes it. */
export function parseToolScope(text: string): [string, string] {
  const at = text.indexOf("=");
  if (at <= 0 || at === text.length - 1) throw new Error(`--tool-scope takes <tool>=<scope>, e.g. notes_add=notes:write (got "${text}")`);
  return [text.slice(0, at), text.slice(at + 1)];
}

/** The first problem zod found, in words, with where it is. */
export function firstProblem(error: z.ZodError): string {
  const issue = error.issues[0]!;
  const where = issue.path.length ? `${issue.path.join(".")}: ` : "";
  return `${where}${issue.message}`;
}
