-- Every key acts in an organisation: "ApiKey"."organizationId" becomes NOT NULL, so verification
-- never has to find (or create) one on the read path. 0006 already bound the rows imports wrote
-- without one. Any left (a database that wrote some after 0006) go to their owner's personal
-- organisation, where verification used to put them, made here if the owner has none (with the
-- owner as its owner, as sign-up makes it, ids the way 0005 wrote them).
INSERT INTO "Organization" ("id", "name", "personalOwnerId")
SELECT DISTINCT 'org_' || k."userId", 'Personal', k."userId"
FROM "ApiKey" k
WHERE k."organizationId" IS NULL
  AND NOT EXISTS (SELECT 1 FROM "Organization" o WHERE o."personalOwnerId" = k."userId");

INSERT INTO "Membership" ("organizationId", "userId", "role")
SELECT DISTINCT o."id", o."personalOwnerId", 'owner'
FROM "Organization" o
JOIN "ApiKey" k ON k."userId" = o."personalOwnerId" AND k."organizationId" IS NULL
WHERE NOT EXISTS (SELECT 1 FROM "Membership" m WHERE m."organizationId" = o."id" AND m."userId" = o."personalOwnerId");

UPDATE "ApiKey"
SET "organizationId" = (SELECT o."id" FROM "Organization" o WHERE o."personalOwnerId" = "ApiKey"."userId")
WHERE "organizationId" IS NULL;

-- AlterTable
ALTER TABLE "ApiKey" ALTER COLUMN "organizationId" SET NOT NULL;
