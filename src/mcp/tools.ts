// The MCP tools and the scope each one needs. The scope is checked before the request reaches the
// MCP SDK (scope-guard.ts), so a key without it gets an HTTP 403 with insufficient_scope; every
// tool is still listed, its description naming the scope it needs.
// A tool that fails for an internal reason answers with a generic tool error (the SDK would put the
// error's message, e.g. Prisma's text with our file paths, in the result); the error is logged.
// Arguments are validated by the SDK before a tool runs, and its validation messages stay as they are.
import type { CallToolResult, McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import type { Logger } from "../log.js";
import type { AppAuth, KeyAuth } from "../http/state.js";
import { isDatabaseUnavailable } from "../db/unavailable.js";
import { MAX_NOTE_LENGTH, type Notes } from "./notes.js";

export type Identity = KeyAuth | AppAuth;

export const TOOL_SCOPES = {
  whoami: "mcp:read",
  notes_list: "mcp:read",
  notes_add: "mcp:write",
} as const satisfies Record<string, string>;

export type ToolName = keyof typeof TOOL_SCOPES;

/** The scope a tool needs; undefined for a name that is not one of ours (the SDK answers those). */
export function requiredScope(tool: string): string | undefined {
  return Object.hasOwn(TOOL_SCOPES, tool) ? TOOL_SCOPES[tool as ToolName] : undefined;
}

const needs = (tool: ToolName, text: string) => `${text} Requires scope ${TOOL_SCOPES[tool]}.`;

const json = <T extends Record<string, unknown>>(value: T) => ({
  content: [{ type: "text" as const, text: JSON.stringify(value, null, 2) }],
  structuredContent: value,
});

const authorOf = (identity: Identity) => (identity.via === "app" ? identity.app.id : identity.user.id);

export const TOOL_FAILED = "The tool failed on our side and changed nothing. Please try again.";
export const TOOL_UNAVAILABLE = "The service is temporarily unavailable and nothing was changed. Please try again in a few seconds.";

/** Runs a tool; an error it throws becomes a generic tool error for the caller and a log line for us. */
function guarded<A extends unknown[]>(tool: ToolName, identity: Identity, logger: Logger, run: (...args: A) => Promise<CallToolResult>) {
  return async (...args: A): Promise<CallToolResult> => {
    try {
      return await run(...args);
    } catch (err) {
      const unavailable = isDatabaseUnavailable(err);
      logger[unavailable ? "warn" : "error"]({ err, tool, keyId: identity.key.id }, "MCP tool failed");
      return { isError: true, content: [{ type: "text", text: unavailable ? TOOL_UNAVAILABLE : TOOL_FAILED }] };
    }
  };
}

export function registerTools(server: McpServer, identity: Identity, notes: Notes, logger: Logger): void {
  server.registerTool(
    "whoami",
    {
      title: "Who am I",
      description: needs(
        "whoami",
        "Returns who this request acts for (a user, or an organisation's app), its organisation and the API key's scopes.",
      ),
      annotations: { readOnlyHint: true },
    },
    guarded("whoami", identity, logger, async () => {
      const common = {
        organizationId: identity.organizationId,
        keyId: identity.key.id,
        keySource: identity.key.sourceLabel,
        scopes: identity.key.scopes,
        effectiveScopes: identity.scopes,
      };
      const info =
        identity.via === "app"
          ? { app: identity.app, ...common }
          : { email: identity.user.email, userId: identity.user.id, role: identity.role, ...common };
      return json(info);
    }),
  );

  server.registerTool(
    "notes_list",
    {
      title: "List notes",
      description: needs("notes_list", "Lists your notes in this key's organisation, newest first (at most 50)."),
      annotations: { readOnlyHint: true },
    },
    guarded("notes_list", identity, logger, async () => json({ notes: await notes.list(identity.organizationId, authorOf(identity)) })),
  );

  server.registerTool(
    "notes_add",
    {
      title: "Add a note",
      description: needs("notes_add", "Saves a short note in this key's organisation."),
      inputSchema: z.object({ text: z.string().trim().min(1).max(MAX_NOTE_LENGTH) }),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
    },
    guarded("notes_add", identity, logger, async ({ text }: { text: string }) =>
      json({ note: await notes.add(identity.organizationId, authorOf(identity), text) }),
    ),
  );
}
