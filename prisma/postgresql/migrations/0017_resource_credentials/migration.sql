-- Separate resource servers (issue 25 B): the credentials an external resource authenticates with
-- (introspection, its event stream), and the key events its stream carries (src/keys/events/).
-- (No semicolons in comments here: the migration runner splits statements on every one. In function
-- bodies, written as escape strings, \073 is a semicolon.)

-- The credential: a client id shown to the operator, and the SHA-256 (hex) of its secret. The secret
-- itself is never stored (it is printed once, by keyward resources add or credentials --rotate).
ALTER TABLE "Resource" ADD COLUMN "credentialId" TEXT;
ALTER TABLE "Resource" ADD COLUMN "credentialHash" TEXT;
CREATE UNIQUE INDEX "Resource_credentialId_key" ON "Resource"("credentialId");

-- One row per change that can turn a verification answer from yes to no: a key revoked or deleted,
-- its scopes or audiences changed, its owner role changed or membership removed, its app changed or removed.
-- Written by triggers, so in the same transaction as the change, whoever makes it (even by hand in psql).
-- "audience": the key resource column (null: every resource), so a stream sends only what concerns its resource.
-- "at": milliseconds since 1970, for housekeeping pruning. Not in schema.prisma: only src/keys/events/ reads it.
CREATE TABLE "KeyEvent" (
    "id" BIGSERIAL PRIMARY KEY,
    "keyHash" TEXT NOT NULL,
    "audience" TEXT,
    "kind" TEXT NOT NULL,
    "at" BIGINT NOT NULL DEFAULT (floor(extract(epoch FROM clock_timestamp()) * 1000))::bigint
);
CREATE INDEX "KeyEvent_at_idx" ON "KeyEvent"("at");

CREATE FUNCTION keyward_key_event() RETURNS trigger LANGUAGE plpgsql AS E'BEGIN
  IF TG_TABLE_NAME = \'ApiKey\' THEN
    IF TG_OP = \'DELETE\' THEN
      IF OLD."revokedAt" IS NULL THEN INSERT INTO "KeyEvent" ("keyHash", "audience", "kind") VALUES (OLD."hash", OLD."resource", \'removed\')\073 END IF\073
    ELSIF OLD."revokedAt" IS NULL AND NEW."revokedAt" IS NOT NULL THEN
      INSERT INTO "KeyEvent" ("keyHash", "audience", "kind") VALUES (OLD."hash", OLD."resource", \'revoked\')\073
    ELSIF OLD."revokedAt" IS NULL AND (OLD."hash", OLD."userId", OLD."scopes", OLD."resource", OLD."organizationId", OLD."appId", OLD."dpopJkt")
        IS DISTINCT FROM (NEW."hash", NEW."userId", NEW."scopes", NEW."resource", NEW."organizationId", NEW."appId", NEW."dpopJkt") THEN
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

CREATE TRIGGER "ApiKey_key_event" AFTER UPDATE OR DELETE ON "ApiKey" FOR EACH ROW EXECUTE FUNCTION keyward_key_event();
CREATE TRIGGER "Membership_key_event" AFTER UPDATE OR DELETE ON "Membership" FOR EACH ROW EXECUTE FUNCTION keyward_key_event();
CREATE TRIGGER "App_key_event" AFTER UPDATE OR DELETE ON "App" FOR EACH ROW EXECUTE FUNCTION keyward_key_event();
