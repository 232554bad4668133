-- PostgreSQL only: the key-change feed that lets each instance answer verifications from memory
-- without a round trip per request (src/db/pg-change-feed.ts, docs/performance.md).
-- Neither object is in schema.prisma: only the SQL of the feed reads or writes them. (No quotes or semicolons in comments here: the migration runner splits statements on every semicolon.)

-- One row per serving instance whose verification cache follows the channel `keyward_key_changes`.
-- "leaseUntil": the instance serves from memory only while it renews this (on its listening connection).
-- "acked": the highest announcement (transaction id) it has processed, i.e. emptied its cache for.
CREATE TABLE "KeyCacheInstance" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "leaseUntil" TIMESTAMPTZ NOT NULL,
    "acked" BIGINT NOT NULL
);

-- Any change to what verification reads tells every listening instance to empty its cache, even a
-- hand-written UPDATE in psql. (Writes made by Keyward also wait for every instance to acknowledge, so
-- they hold on the very next request, and this trigger is the safety net for everything else.)
-- The body is an escape string: \073 is a semicolon, which the migration runner would split on.
CREATE FUNCTION keyward_key_changed() RETURNS trigger LANGUAGE plpgsql
    AS E'BEGIN PERFORM pg_notify(\'keyward_key_changes\', \'\')\073 RETURN NULL\073 END'
;

-- New keys are not announced (an unknown hash is never cached), and last-used times are not either.
CREATE TRIGGER "ApiKey_key_changed"
    AFTER UPDATE OF "id", "userId", "hash", "last4", "label", "source", "clientId", "scopes", "resource", "grantId", "organizationId", "appId", "createdAt", "revokedAt" OR DELETE OR TRUNCATE
    ON "ApiKey" FOR EACH STATEMENT EXECUTE FUNCTION keyward_key_changed();
CREATE TRIGGER "Membership_key_changed" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "Membership" FOR EACH STATEMENT EXECUTE FUNCTION keyward_key_changed();
CREATE TRIGGER "App_key_changed" AFTER UPDATE OR DELETE OR TRUNCATE ON "App" FOR EACH STATEMENT EXECUTE FUNCTION keyward_key_changed();
CREATE TRIGGER "User_key_changed" AFTER UPDATE OF "id", "email" OR DELETE OR TRUNCATE ON "User" FOR EACH STATEMENT EXECUTE FUNCTION keyward_key_changed();
