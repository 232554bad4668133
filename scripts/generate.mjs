// Generates the Prisma clients for both providers (run by `npm ci` as postinstall, and by
// `npm start`/`npm test` when they are missing). No network: JS engine only (shared/PRISMA.md).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const prismaCli = path.join(root, "node_modules", "prisma", "build", "index.js");
const urls = { sqlite: "file:./data/keyward.db", postgresql: "postgresql://localhost/keyward" };
const onlyIfMissing = process.argv.includes("--if-missing");

for (const provider of ["sqlite", "postgresql"]) {
  const out = path.join(root, "src", "generated", provider, "client.ts");
  if (onlyIfMissing && existsSync(out)) continue;
  execFileSync(process.execPath, [prismaCli, "generate", "--schema", `prisma/${provider}/schema.prisma`], {
    cwd: root,
    stdio: ["ignore", "ignore", "pipe"],
    // prisma.config.ts picks the provider from DATABASE_URL, so each generation gets a matching one.
    env: { ...process.env, DATABASE_URL: urls[provider], PRISMA_HIDE_UPDATE_MESSAGE: "1" },
  });
}
