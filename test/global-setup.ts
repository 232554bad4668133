// Migrates one SQLite template database per run; each test server starts from a copy of it
// (running `prisma migrate deploy` per test file would cost seconds each).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { migrate } from "../src/db/migrate.js";

export default async function setup({ provide }: { provide: (key: string, value: string) => void }) {
  const dir = mkdtempSync(path.join(tmpdir(), "keyward-template-"));
  const file = path.join(dir, "template.db");
  await migrate(`file:${file}`);
  provide("templateDb", file);
  return () => rmSync(dir, { recursive: true, force: true });
}

declare module "vitest" {
  export interface ProvidedContext {
    templateDb: string;
  }
}
