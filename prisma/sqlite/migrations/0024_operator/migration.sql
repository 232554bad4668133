-- Operators (src/admin/, docs/operators.md): the instance administrator role, disabled accounts and
-- blocked OAuth clients. ADD COLUMN and a new table only: nothing is rebuilt (no trigger of 0017 to redo).
ALTER TABLE "User" ADD COLUMN "isAdmin" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "User" ADD COLUMN "disabledAt" DATETIME;

-- The first account of an instance that already has accounts is its administrator (a fresh instance
-- makes the first account to sign up its administrator: src/accounts/users.ts).
UPDATE "User" SET "isAdmin" = true WHERE "id" = (SELECT "id" FROM "User" ORDER BY "createdAt", "id" LIMIT 1);

CREATE TABLE "BlockedClient" (
    "clientId" TEXT NOT NULL PRIMARY KEY,
    "clientName" TEXT,
    "metadataDigest" TEXT,
    "blockedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "blockedBy" TEXT,
    "reason" TEXT
);
CREATE INDEX "BlockedClient_metadataDigest_idx" ON "BlockedClient"("metadataDigest");
