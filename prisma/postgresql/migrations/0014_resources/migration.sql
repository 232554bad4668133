-- Protected MCP servers behind the gateway (src/resources/), and what the gateway last saw of each.
CREATE TABLE "Resource" (
    "id" TEXT NOT NULL,
    "slug" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "upstream" TEXT NOT NULL,
    "toolScopes" TEXT NOT NULL DEFAULT '{}',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Resource_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "Resource_slug_key" ON "Resource"("slug");

CREATE TABLE "ResourceHealth" (
    "resourceId" TEXT NOT NULL,
    "lastOkAt" TIMESTAMP(3),
    "lastErrorAt" TIMESTAMP(3),
    "lastError" TEXT,
    "latencyMs" INTEGER,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ResourceHealth_pkey" PRIMARY KEY ("resourceId")
);

-- The gateway keeps resources in memory behind the same change feed as key rows (src/resources/lookup.ts):
-- any change to a resource tells every listening instance to let go of what it holds, even from psql.
CREATE TRIGGER "Resource_key_changed" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "Resource" FOR EACH STATEMENT EXECUTE FUNCTION keyward_key_changed();
