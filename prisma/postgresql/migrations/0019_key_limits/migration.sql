-- Issue 28 items 3 and 4: IP allowlists and rate limits per key, per OAuth client (per user) and per resource.
-- ApiKey and Resource already fire the key change feed (0007, 0014): a changed limit reaches every instance's cache.
ALTER TABLE "ApiKey" ADD COLUMN "allowedIps" TEXT;
ALTER TABLE "ApiKey" ADD COLUMN "rateLimit" INTEGER;
ALTER TABLE "Resource" ADD COLUMN "keyRateLimit" INTEGER;

-- Copied onto the keys it concerns (never read by verification itself): no change-feed trigger.
CREATE TABLE "ClientKeyLimit" (
    "userId" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "allowedIps" TEXT,
    "rateLimit" INTEGER,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ClientKeyLimit_pkey" PRIMARY KEY ("userId", "clientId")
);

-- Rate-limit counters every instance adds its batch to (src/keys/limits/pg-counter.ts).
CREATE TABLE "KeyRateCount" (
    "bucket" TEXT NOT NULL,
    "window" INTEGER NOT NULL,
    "count" INTEGER NOT NULL,

    CONSTRAINT "KeyRateCount_pkey" PRIMARY KEY ("bucket", "window")
);

CREATE INDEX "KeyRateCount_window_idx" ON "KeyRateCount"("window");
