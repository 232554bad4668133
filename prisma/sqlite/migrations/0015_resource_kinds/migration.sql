-- A resource is served one of three ways (src/resources/transport.ts): an HTTP upstream the gateway
-- proxies to ("upstream"), a stdio server the gateway starts per user ("command", "env", "cwd"), or
-- a separate resource server that verifies keys itself ("external": its public URL, the audience its
-- keys are bound to). Exactly one of "upstream", "command", "external" is set, and "upstream" becomes
-- nullable for the other two.
-- RedefineTables (as Prisma writes it: SQLite cannot drop NOT NULL from a column in place)
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Resource" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "slug" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "upstream" TEXT,
    "command" TEXT,
    "env" TEXT NOT NULL DEFAULT '{}',
    "cwd" TEXT,
    "external" TEXT,
    "toolScopes" TEXT NOT NULL DEFAULT '{}',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);
INSERT INTO "new_Resource" ("id", "slug", "name", "upstream", "toolScopes", "createdAt", "updatedAt")
SELECT "id", "slug", "name", "upstream", "toolScopes", "createdAt", "updatedAt" FROM "Resource";
DROP TABLE "Resource";
ALTER TABLE "new_Resource" RENAME TO "Resource";
CREATE UNIQUE INDEX "Resource_slug_key" ON "Resource"("slug");
CREATE UNIQUE INDEX "Resource_external_key" ON "Resource"("external");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
