// The notes the MCP notes tools read and write: one list per (organisation, author), where the
// author is the key's user, or the app for an app key.
import { randomUUID } from "node:crypto";
import type { Db } from "../db/client.js";

export const MAX_NOTE_LENGTH = 2000;
export const NOTES_LISTED = 50;

export interface NoteView {
  id: string;
  text: string;
  createdAt: string;
}

export function createNotes(db: Db) {
  return {
    async add(organizationId: string, authorId: string, text: string): Promise<NoteView> {
      const row = await db.note.create({ data: { id: `note_${randomUUID().replace(/-/g, "")}`, organizationId, authorId, text } });
      return { id: row.id, text: row.text, createdAt: row.createdAt.toISOString() };
    },

    /** Newest first, at most NOTES_LISTED. */
    async list(organizationId: string, authorId: string): Promise<NoteView[]> {
      const rows = await db.note.findMany({
        where: { organizationId, authorId },
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        take: NOTES_LISTED,
      });
      return rows.map((r) => ({ id: r.id, text: r.text, createdAt: r.createdAt.toISOString() }));
    },
  };
}

export type Notes = ReturnType<typeof createNotes>;
