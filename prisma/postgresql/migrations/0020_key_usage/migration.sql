-- Requests per key and hour (src/keys/usage/), added in batches with the last-used flush. Nothing
-- here affects key verification, so no key change feed trigger.
CREATE TABLE "KeyUsage" (
    "keyId" TEXT NOT NULL,
    "hour" INTEGER NOT NULL,
    "requests" INTEGER NOT NULL DEFAULT 0,
    "unauthorized" INTEGER NOT NULL DEFAULT 0,
    "forbidden" INTEGER NOT NULL DEFAULT 0,
    "limited" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "KeyUsage_pkey" PRIMARY KEY ("keyId", "hour")
);

CREATE INDEX "KeyUsage_hour_idx" ON "KeyUsage"("hour");

ALTER TABLE "KeyUsage" ADD CONSTRAINT "KeyUsage_keyId_fkey" FOREIGN KEY ("keyId") REFERENCES "ApiKey"("id") ON DELETE CASCADE ON UPDATE CASCADE;
