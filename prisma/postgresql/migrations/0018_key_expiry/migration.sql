-- Issue 28: optional key expiry, rolling, and an organisation's cap on its keys' lifetime (src/keys/expiry.ts, src/keys/roll.ts).
-- "ApiKey" already tells the key-change feed of every write (0007's trigger), so a changed expiry reaches every instance's cache.
-- The organisation's cap is read only when a key is minted, never by verification: no trigger for it.
ALTER TABLE "ApiKey" ADD COLUMN "expiresAt" TIMESTAMP(3);
ALTER TABLE "ApiKey" ADD COLUMN "replacedById" TEXT;
ALTER TABLE "Organization" ADD COLUMN "maxKeyLifetimeDays" INTEGER;
