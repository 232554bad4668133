-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN "appId" TEXT;
ALTER TABLE "ApiKey" ADD COLUMN "organizationId" TEXT;

-- CreateTable
CREATE TABLE "Organization" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "personalOwnerId" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "Membership" (
    "organizationId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,

    PRIMARY KEY ("organizationId", "userId"),
    CONSTRAINT "Membership_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "Organization" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Membership_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "App" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "organizationId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "App_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "Organization" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Note" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "organizationId" TEXT NOT NULL,
    "authorId" TEXT NOT NULL,
    "text" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateIndex
CREATE UNIQUE INDEX "Organization_personalOwnerId_key" ON "Organization"("personalOwnerId");

-- CreateIndex
CREATE INDEX "Membership_userId_idx" ON "Membership"("userId");

-- CreateIndex
CREATE INDEX "App_organizationId_idx" ON "App"("organizationId");

-- CreateIndex
CREATE INDEX "Note_organizationId_authorId_createdAt_idx" ON "Note"("organizationId", "authorId", "createdAt");

-- CreateIndex
CREATE INDEX "ApiKey_organizationId_createdAt_idx" ON "ApiKey"("organizationId", "createdAt");

-- CreateIndex
CREATE INDEX "ApiKey_appId_idx" ON "ApiKey"("appId");


-- Existing rows: every user gets a personal organisation (owner), and every key is bound to it.
-- (Timestamps written the way Prisma writes them, ISO 8601 with an explicit UTC offset.)
INSERT INTO "Organization" ("id", "name", "personalOwnerId", "createdAt")
SELECT 'org_' || "id", 'Personal', "id", strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now') FROM "User";

INSERT INTO "Membership" ("organizationId", "userId", "role", "createdAt")
SELECT 'org_' || "id", "id", 'owner', strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now') FROM "User";

UPDATE "ApiKey" SET "organizationId" = 'org_' || "userId" WHERE "organizationId" IS NULL;
