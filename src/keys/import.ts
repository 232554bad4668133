// Import of keys from another system, by their SHA-256 hashes: users keep their raw keys and never
// have to re-issue them. One JSON object per line: {hash, label?, created, last4}. Every line is
// validated first (errors carry line numbers); then the rows go in one transaction or not at all.
import { z } from "zod";
import type { Db } from "../db/client.js";
import { labelSchema } from "./input.js";
import { toView, type KeyView } from "./view.js";
import { newKeyId } from "./store.js";
import { createOrganizations } from "../orgs/organizations.js";

export const MAX_IMPORT_LINES = 10_000;

const FIELDS = "hash, label, created, last4";
const EXAMPLE = '{"hash": "…", "created": "…", "last4": "…"}';
const TEXT = "text in double quotes";

/** What a JSON value is, in the words the messages use. */
function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return TEXT;
  if (typeof value === "number") return "a number";
  if (typeof value === "boolean") return "true or false";
  return "a JSON object";
}

/** A field of the wrong type or missing: what to fix on that line. */
const wrongType =
  (field: string, expected: string) =>
  ({ input }: { input?: unknown }): string =>
    input === undefined ? `missing; every line needs "${field}" (${expected})` : `must be ${expected}, not ${kindOf(input)}`;

// Every message says what to fix on that line; parseImport prefixes the field's name.
const lineSchema = z.strictObject(
  {
    hash: z
      .string({ error: wrongType("hash", TEXT) })
      .regex(/^[0-9a-fA-F]{64}$/, "must be the SHA-256 of the raw key: 64 hexadecimal characters")
      .transform((h) => h.toLowerCase()),
    label: z
      .string({ error: wrongType("label", TEXT) })
      .pipe(labelSchema)
      .optional(),
    created: z.iso.datetime({
      offset: true,
      error: (issue) =>
        issue.code === "invalid_type"
          ? wrongType("created", "an ISO 8601 date-time in double quotes")(issue)
          : "must be an ISO 8601 date-time, e.g. 2024-05-01T12:00:00Z",
    }),
    last4: z
      .string({ error: wrongType("last4", TEXT) })
      .regex(/^[\x21-\x7e]{4}$/, "must be the last 4 characters of the raw key (printable ASCII)"),
  },
  {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}: the fields are ${FIELDS}`
        : `each line must be one JSON object with the fields ${FIELDS}, e.g. ${EXAMPLE}; this line is ${kindOf(issue.input)}`,
  },
);

export interface ImportRow {
  line: number;
  hash: string;
  label: string;
  created: Date;
  last4: string;
}

export interface ImportProblem {
  line: number;
  message: string;
}

/** Parses JSON Lines; blank lines are skipped. All problems are reported, not just the first. */
export function parseImport(text: string): { rows: ImportRow[]; problems: ImportProblem[] } {
  const rows: ImportRow[] = [];
  const problems: ImportProblem[] = [];
  const seen = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  for (const [index, content] of lines.entries()) {
    const line = index + 1;
    if (content.trim() === "") continue;
    if (rows.length + problems.length >= MAX_IMPORT_LINES) {
      problems.push({ line, message: `too many lines: import at most ${MAX_IMPORT_LINES} keys at a time` });
      break;
    }
    let json: unknown;
    try {
      json = JSON.parse(content);
    } catch {
      problems.push({ line, message: `not valid JSON: each line must be one JSON object, e.g. ${EXAMPLE}` });
      continue;
    }
    const parsed = lineSchema.safeParse(json);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        // The field's name first, unless the message already starts with it (the label rules of src/keys/input.ts).
        const field = issue.path.join(".");
        const where = field && !issue.message.toLowerCase().startsWith(field) ? `${field}: ` : "";
        problems.push({ line, message: `${where}${issue.message}` });
      }
      continue;
    }
    const first = seen.get(parsed.data.hash);
    if (first !== undefined) {
      problems.push({ line, message: `hash: the same hash as line ${first}` });
      continue;
    }
    seen.set(parsed.data.hash, line);
    rows.push({
      line,
      hash: parsed.data.hash,
      label: parsed.data.label || "Imported key",
      created: new Date(parsed.data.created),
      last4: parsed.data.last4,
    });
  }
  return { rows, problems };
}

export function createKeyImport(db: Db) {
  return {
    /** Lines whose hash is already in the key table (of any user: a hash is a key). */
    async conflicts(rows: readonly ImportRow[]): Promise<ImportProblem[]> {
      const problems: ImportProblem[] = [];
      for (let i = 0; i < rows.length; i += 500) {
        const batch = rows.slice(i, i + 500);
        const found = await db.apiKey.findMany({ where: { hash: { in: batch.map((r) => r.hash) } }, select: { hash: true } });
        const taken = new Set(found.map((f) => f.hash));
        for (const r of batch) if (taken.has(r.hash)) problems.push({ line: r.line, message: "hash: a key with this hash already exists" });
      }
      return problems;
    },

    /** Writes every row in one transaction (source `unknown`, in the user's personal organisation): all of them or none. */
    async importHashes(userId: string, rows: readonly ImportRow[]): Promise<KeyView[]> {
      const organizationId = await createOrganizations(db).ensurePersonal(userId);
      const created = await db.$transaction(
        rows.map((r) =>
          db.apiKey.create({
            data: {
              id: newKeyId(),
              userId,
              organizationId,
              hash: r.hash,
              last4: r.last4,
              label: r.label,
              source: "unknown",
              scopes: "",
              createdAt: r.created,
            },
          }),
        ),
      );
      return created.map((row) => toView(row));
    },
  };
}
