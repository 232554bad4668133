-- Requests per key and hour (src/keys/usage/), added in batches with the last-used flush.
CREATE TABLE "KeyUsage" (
    "keyId" TEXT NOT NULL,
    "hour" INTEGER NOT NULL,
    "requests" INTEGER NOT NULL DEFAULT 0,
    "unauthorized" INTEGER NOT NULL DEFAULT 0,
    "forbidden" INTEGER NOT NULL DEFAULT 0,
    "limited" INTEGER NOT NULL DEFAULT 0,

    PRIMARY KEY ("keyId", "hour"),
    CONSTRAINT "KeyUsage_keyId_fkey" FOREIGN KEY ("keyId") REFERENCES "ApiKey" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE INDEX "KeyUsage_hour_idx" ON "KeyUsage"("hour");
