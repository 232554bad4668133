-- Keys imported after 0005 were written without an organisation, which sent every verification of
-- them down a slow path (three extra queries to find the personal organisation). Put them in their
-- owner's personal organisation, where they already acted. Imports now set it themselves.
UPDATE "ApiKey"
SET "organizationId" = (SELECT o."id" FROM "Organization" o WHERE o."personalOwnerId" = "ApiKey"."userId")
WHERE "organizationId" IS NULL;
