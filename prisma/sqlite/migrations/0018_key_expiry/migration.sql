-- Issue 28: optional key expiry, rolling, and an organisation's cap on its keys' lifetime (src/keys/expiry.ts, src/keys/roll.ts).
ALTER TABLE "ApiKey" ADD COLUMN "expiresAt" DATETIME;
ALTER TABLE "ApiKey" ADD COLUMN "replacedById" TEXT;
ALTER TABLE "Organization" ADD COLUMN "maxKeyLifetimeDays" INTEGER;
