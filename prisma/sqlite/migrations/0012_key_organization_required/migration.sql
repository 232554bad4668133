-- Every key acts in an organisation: "ApiKey"."organizationId" becomes NOT NULL, so verification
-- never has to find (or create) one on the read path. 0006 already bound the rows imports wrote
-- without one. Any left (a database that wrote some after 0006) go to their owner's personal
-- organisation, where verification used to put them, made here if the owner has none (with the
-- owner as its owner, as sign-up makes it, ids and timestamps the way 0005 wrote them).
INSERT INTO "Organization" ("id", "name", "personalOwnerId", "createdAt")
SELECT DISTINCT 'org_' || k."userId", 'Personal', k."userId", strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
FROM "ApiKey" k
WHERE k."organizationId" IS NULL
  AND NOT EXISTS (SELECT 1 FROM "Organization" o WHERE o."personalOwnerId" = k."userId");

INSERT INTO "Membership" ("organizationId", "userId", "role", "createdAt")
SELECT DISTINCT o."id", o."personalOwnerId", 'owner', strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
FROM "Organization" o
JOIN "ApiKey" k ON k."userId" = o."personalOwnerId" AND k."organizationId" IS NULL
WHERE NOT EXISTS (SELECT 1 FROM "Membership" m WHERE m."organizationId" = o."id" AND m."userId" = o."personalOwnerId");

UPDATE "ApiKey"
SET "organizationId" = (SELECT o."id" FROM "Organization" o WHERE o."personalOwnerId" = "ApiKey"."userId")
WHERE "organizationId" IS NULL;

-- RedefineTables (as Prisma writes it: SQLite cannot add NOT NULL to a column in place)
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_ApiKey" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "userId" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "last4" TEXT NOT NULL,
    "label" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "clientId" TEXT,
    "scopes" TEXT NOT NULL DEFAULT '',
    "resource" TEXT,
    "grantId" TEXT,
    "organizationId" TEXT NOT NULL,
    "appId" TEXT,
    "dpopJkt" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastUsedAt" DATETIME,
    "revokedAt" DATETIME,
    CONSTRAINT "ApiKey_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_ApiKey" ("appId", "clientId", "createdAt", "dpopJkt", "grantId", "hash", "id", "label", "last4", "lastUsedAt", "organizationId", "resource", "revokedAt", "scopes", "source", "userId") SELECT "appId", "clientId", "createdAt", "dpopJkt", "grantId", "hash", "id", "label", "last4", "lastUsedAt", "organizationId", "resource", "revokedAt", "scopes", "source", "userId" FROM "ApiKey";
DROP TABLE "ApiKey";
ALTER TABLE "new_ApiKey" RENAME TO "ApiKey";
CREATE UNIQUE INDEX "ApiKey_hash_key" ON "ApiKey"("hash");
CREATE INDEX "ApiKey_userId_createdAt_idx" ON "ApiKey"("userId", "createdAt");
CREATE INDEX "ApiKey_clientId_idx" ON "ApiKey"("clientId");
CREATE INDEX "ApiKey_grantId_idx" ON "ApiKey"("grantId");
CREATE INDEX "ApiKey_organizationId_createdAt_idx" ON "ApiKey"("organizationId", "createdAt");
CREATE INDEX "ApiKey_appId_idx" ON "ApiKey"("appId");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
