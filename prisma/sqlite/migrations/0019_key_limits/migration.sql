-- Issue 28 items 3 and 4: IP allowlists and rate limits per key, per OAuth client (per user) and per resource.
ALTER TABLE "ApiKey" ADD COLUMN "allowedIps" TEXT;
ALTER TABLE "ApiKey" ADD COLUMN "rateLimit" INTEGER;
ALTER TABLE "Resource" ADD COLUMN "keyRateLimit" INTEGER;

CREATE TABLE "ClientKeyLimit" (
    "userId" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "allowedIps" TEXT,
    "rateLimit" INTEGER,
    "updatedAt" DATETIME NOT NULL,

    PRIMARY KEY ("userId", "clientId")
);

-- Used by PostgreSQL instances only (SQLite runs one process, which counts in memory); kept for one schema.
CREATE TABLE "KeyRateCount" (
    "bucket" TEXT NOT NULL,
    "window" INTEGER NOT NULL,
    "count" INTEGER NOT NULL,

    PRIMARY KEY ("bucket", "window")
);

CREATE INDEX "KeyRateCount_window_idx" ON "KeyRateCount"("window");
