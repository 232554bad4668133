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

export const resourceInputSchema = z
  .object({
    slug: slugSchema,
    name: nameSchema,
    upstream: upstreamSchema,
    toolScopes: toolScopesSchema.default({}),
    /** Requests per minute each key may send to this resource (issue 28); null or absent: no limit. */
    keyRateLimit: rateLimitSchema.nullable().optional(),
  })
  .strict();

export type ResourceInput = z.input<typeof resourceInputSchema>;

export const resourceChangeSchema = z
  .object({
    name: nameSchema.optional(),
    upstream: upstreamSchema.optional(),
    /** Replaces the whole map. */
    toolScopes: toolScopesSchema.optional(),
    /** null removes the limit. */
    keyRateLimit: rateLimitSchema.nullable().optional(),
  })
  .strict();

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
