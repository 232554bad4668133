-- A key's end (expiry, a roll's scheduled end) and its limits changed: a `changed` event for the
-- resource servers that cache verifications (0017), as for its scopes or binding. Without it, a
-- separate server's cache kept a rolled key working past the end of its overlap window.
CREATE OR REPLACE FUNCTION keyward_key_event() RETURNS trigger LANGUAGE plpgsql AS E'BEGIN
  IF TG_TABLE_NAME = \'ApiKey\' THEN
    IF TG_OP = \'DELETE\' THEN
      IF OLD."revokedAt" IS NULL THEN INSERT INTO "KeyEvent" ("keyHash", "audience", "kind") VALUES (OLD."hash", OLD."resource", \'removed\')\073 END IF\073
    ELSIF OLD."revokedAt" IS NULL AND NEW."revokedAt" IS NOT NULL THEN
      INSERT INTO "KeyEvent" ("keyHash", "audience", "kind") VALUES (OLD."hash", OLD."resource", \'revoked\')\073
    ELSIF OLD."revokedAt" IS NULL AND (OLD."hash", OLD."userId", OLD."scopes", OLD."resource", OLD."organizationId", OLD."appId", OLD."dpopJkt", OLD."expiresAt", OLD."allowedIps", OLD."rateLimit")
        IS DISTINCT FROM (NEW."hash", NEW."userId", NEW."scopes", NEW."resource", NEW."organizationId", NEW."appId", NEW."dpopJkt", NEW."expiresAt", NEW."allowedIps", NEW."rateLimit") THEN
      INSERT INTO "KeyEvent" ("keyHash", "audience", "kind") VALUES (OLD."hash", OLD."resource", \'changed\')\073
    END IF\073
  ELSIF TG_TABLE_NAME = \'Membership\' THEN
    INSERT INTO "KeyEvent" ("keyHash", "audience", "kind")
      SELECT "hash", "resource", \'changed\' FROM "ApiKey"
      WHERE "userId" = OLD."userId" AND "organizationId" = OLD."organizationId" AND "revokedAt" IS NULL\073
  ELSIF TG_TABLE_NAME = \'App\' THEN
    INSERT INTO "KeyEvent" ("keyHash", "audience", "kind")
      SELECT "hash", "resource", \'changed\' FROM "ApiKey" WHERE "appId" = OLD."id" AND "revokedAt" IS NULL\073
  END IF\073
  RETURN NULL\073
END'
;
