-- A resource is served one of three ways (src/resources/transport.ts): an HTTP upstream the gateway
-- proxies to ("upstream"), a stdio server the gateway starts per user ("command", "env", "cwd"), or
-- a separate resource server that verifies keys itself ("external": its public URL, the audience its
-- keys are bound to). Exactly one of "upstream", "command", "external" is set, and "upstream" becomes
-- nullable for the other two.
ALTER TABLE "Resource" ALTER COLUMN "upstream" DROP NOT NULL;
ALTER TABLE "Resource" ADD COLUMN "command" TEXT;
ALTER TABLE "Resource" ADD COLUMN "env" TEXT NOT NULL DEFAULT '{}';
ALTER TABLE "Resource" ADD COLUMN "cwd" TEXT;
ALTER TABLE "Resource" ADD COLUMN "external" TEXT;
CREATE UNIQUE INDEX "Resource_external_key" ON "Resource"("external");
