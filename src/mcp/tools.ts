// The MCP tools and the scope each one needs. The scope is checked before the request reaches the
// MCP SDK (scope-guard.ts), so a key without it gets an HTTP 403 with insufficient_scope; every
// tool is still listed, its description naming the scope it needs.
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import type { AppAuth, KeyAuth } from "../http/state.js";
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

const json = <T extends Record<string, unknown>>(value: T) => ({ content: [{ type: "text" as const, text: JSON.stringify(value, null, 2) }], structuredContent: value });

const authorOf = (identity: Identity) => (identity.via === "app" ? identity.app.id : identity.user.id);

export function registerTools(server: McpServer, identity: Identity, notes: Notes): void {
  server.registerTool(
    "whoami",
    {
      title: "Who am I",
      description: needs("whoami", "Returns who this request acts for (a user, or an organisation's app), its organisation and the API key's scopes."),
      annotations: { readOnlyHint: true },
    },
    async () => {
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
    },
  );

  server.registerTool(
    "notes_list",
    {
      title: "List notes",
      description: needs("notes_list", "Lists your notes in this key's organisation, newest first (at most 50)."),
      annotations: { readOnlyHint: true },
    },
    async () => json({ notes: await notes.list(identity.organizationId, authorOf(identity)) }),
  );

  server.registerTool(
    "notes_add",
    {
      title: "Add a note",
      description: needs("notes_add", "Saves a short note in this key's organisation."),
      inputSchema: { text: z.string().trim().min(1).max(MAX_NOTE_LENGTH) },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
    },
    async ({ text }) => json({ note: await notes.add(identity.organizationId, authorOf(identity), text) }),
  );
}
