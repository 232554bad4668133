// The project's own TypeScript sources, for the tests that read the code itself (who may write audit
// rows or key rows, which event kinds exist).
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * Every .ts file under src/, with its path from the repository root, the generated Prisma clients left
 * out, and so is any folder in `skip` (paths from the repository root, e.g. "src/keys").
 */
export function sourceFiles(skip: string[] = []): { file: string; text: string }[] {
  const skipped = new Set(skip.map((dir) => path.join(ROOT, dir)));
  const files: { file: string; text: string }[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "generated" && !skipped.has(p)) walk(p);
      } else if (entry.name.endsWith(".ts")) files.push({ file: path.relative(ROOT, p), text: readFileSync(p, "utf8") });
    }
  };
  walk(path.join(ROOT, "src"));
  return files;
}
