-- Connection doctor (issue 26): refusals of keys that belong to no OAuth client (portal, CLI) are
-- recorded per key, so "clientId" may be null.
ALTER TABLE "ConnectionEvent" ALTER COLUMN "clientId" DROP NOT NULL;
