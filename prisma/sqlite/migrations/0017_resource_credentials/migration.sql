-- Separate resource servers (issue 25 B): the credentials an external resource authenticates with
-- (introspection, its event stream), and the key events its stream carries (src/keys/events/).

-- The credential: a client id shown to the operator, and the SHA-256 (hex) of its secret. The secret
-- itself is never stored (it is printed once, by `keyward resources add` or `credentials --rotate`).
ALTER TABLE "Resource" ADD COLUMN "credentialId" TEXT;
ALTER TABLE "Resource" ADD COLUMN "credentialHash" TEXT;
CREATE UNIQUE INDEX "Resource_credentialId_key" ON "Resource"("credentialId");

-- One row per change that can turn a verification's answer from yes to no: a key revoked or deleted,
-- its scopes or audiences changed, its owner's role changed or membership removed, its app changed or removed.
-- Written by triggers, so in the same transaction as the change, whoever makes it (even by hand in a shell).
-- "audience": the key's resource column (null: every resource), so a stream sends only what concerns its resource.
-- "at": milliseconds since 1970, for housekeeping's pruning. Not in schema.prisma: only src/keys/events/ reads it.
-- A later migration that rebuilds ApiKey, Membership or App (new_X, DROP, RENAME) must drop the triggers
-- below that name the table first and create them again after: SQLite drops a table's own triggers with
-- it, and refuses the RENAME while another table's trigger names the dropped one.
CREATE TABLE "KeyEvent" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "keyHash" TEXT NOT NULL,
    "audience" TEXT,
    "kind" TEXT NOT NULL,
    "at" INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
);
CREATE INDEX "KeyEvent_at_idx" ON "KeyEvent"("at");

CREATE TRIGGER "ApiKey_event_revoked" AFTER UPDATE OF "revokedAt" ON "ApiKey"
    WHEN OLD."revokedAt" IS NULL AND NEW."revokedAt" IS NOT NULL
BEGIN
    INSERT INTO "KeyEvent" ("keyHash", "audience", "kind") VALUES (OLD."hash", OLD."resource", 'revoked');
END;

CREATE TRIGGER "ApiKey_event_changed" AFTER UPDATE OF "hash", "userId", "scopes", "resource", "organizationId", "appId", "dpopJkt" ON "ApiKey"
    WHEN OLD."revokedAt" IS NULL
BEGIN
    INSERT INTO "KeyEvent" ("keyHash", "audience", "kind") VALUES (OLD."hash", OLD."resource", 'changed');
END;

CREATE TRIGGER "ApiKey_event_removed" AFTER DELETE ON "ApiKey"
    WHEN OLD."revokedAt" IS NULL
BEGIN
    INSERT INTO "KeyEvent" ("keyHash", "audience", "kind") VALUES (OLD."hash", OLD."resource", 'removed');
END;

CREATE TRIGGER "Membership_event_changed" AFTER UPDATE ON "Membership"
BEGIN
    INSERT INTO "KeyEvent" ("keyHash", "audience", "kind")
        SELECT "hash", "resource", 'changed' FROM "ApiKey"
        WHERE "userId" = OLD."userId" AND "organizationId" = OLD."organizationId" AND "revokedAt" IS NULL;
END;

CREATE TRIGGER "Membership_event_removed" AFTER DELETE ON "Membership"
BEGIN
    INSERT INTO "KeyEvent" ("keyHash", "audience", "kind")
        SELECT "hash", "resource", 'changed' FROM "ApiKey"
        WHERE "userId" = OLD."userId" AND "organizationId" = OLD."organizationId" AND "revokedAt" IS NULL;
END;

CREATE TRIGGER "App_event_changed" AFTER UPDATE ON "App"
BEGIN
    INSERT INTO "KeyEvent" ("keyHash", "audience", "kind")
        SELECT "hash", "resource", 'changed' FROM "ApiKey" WHERE "appId" = OLD."id" AND "revokedAt" IS NULL;
END;

CREATE TRIGGER "App_event_removed" AFTER DELETE ON "App"
BEGIN
    INSERT INTO "KeyEvent" ("keyHash", "audience", "kind")
        SELECT "hash", "resource", 'changed' FROM "ApiKey" WHERE "appId" = OLD."id" AND "revokedAt" IS NULL;
END;
