-- Operators (src/admin/, docs/operators.md): the instance administrator role, disabled accounts and
-- blocked OAuth clients. (No semicolons in comments: the migration runner splits on every one.)
ALTER TABLE "User" ADD COLUMN "isAdmin" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "User" ADD COLUMN "disabledAt" TIMESTAMP(3);

-- The first account of an instance that already has accounts is its administrator (a fresh instance
-- makes the first account to sign up its administrator, src/accounts/users.ts).
UPDATE "User" SET "isAdmin" = true WHERE "id" = (SELECT "id" FROM "User" ORDER BY "createdAt", "id" LIMIT 1);

CREATE TABLE "BlockedClient" (
    "clientId" TEXT NOT NULL,
    "clientName" TEXT,
    "metadataDigest" TEXT,
    "blockedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "blockedBy" TEXT,
    "reason" TEXT,

    CONSTRAINT "BlockedClient_pkey" PRIMARY KEY ("clientId")
);
CREATE INDEX "BlockedClient_metadataDigest_idx" ON "BlockedClient"("metadataDigest");

-- Verification reads both (src/keys/lookup/read-row.ts): every change empties every instance's cache (0007's function).
CREATE TRIGGER "User_disabled_key_changed" AFTER UPDATE OF "disabledAt" ON "User" FOR EACH STATEMENT EXECUTE FUNCTION keyward_key_changed();
CREATE TRIGGER "BlockedClient_key_changed" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "BlockedClient" FOR EACH STATEMENT EXECUTE FUNCTION keyward_key_changed();
