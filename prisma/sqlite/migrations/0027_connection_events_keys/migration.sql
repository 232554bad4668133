-- Connection doctor (issue 26): refusals of keys that belong to no OAuth client (portal, CLI) are
-- recorded per key, so "clientId" may be null. SQLite cannot drop a NOT NULL: the table is rebuilt
-- (it has no triggers, and nothing references it).
CREATE TABLE "new_ConnectionEvent" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "clientId" TEXT,
    "userId" TEXT,
    "keyId" TEXT,
    "step" TEXT NOT NULL,
    "outcome" TEXT NOT NULL,
    "reason" TEXT NOT NULL DEFAULT '',
    "detail" TEXT NOT NULL DEFAULT '{}',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO "new_ConnectionEvent" ("id", "clientId", "userId", "keyId", "step", "outcome", "reason", "detail", "createdAt")
SELECT "id", "clientId", "userId", "keyId", "step", "outcome", "reason", "detail", "createdAt" FROM "ConnectionEvent";
DROP TABLE "ConnectionEvent";
ALTER TABLE "new_ConnectionEvent" RENAME TO "ConnectionEvent";

CREATE INDEX "ConnectionEvent_clientId_createdAt_idx" ON "ConnectionEvent"("clientId", "createdAt");
CREATE INDEX "ConnectionEvent_userId_createdAt_idx" ON "ConnectionEvent"("userId", "createdAt");
CREATE INDEX "ConnectionEvent_keyId_createdAt_idx" ON "ConnectionEvent"("keyId", "createdAt");
CREATE INDEX "ConnectionEvent_createdAt_idx" ON "ConnectionEvent"("createdAt");
