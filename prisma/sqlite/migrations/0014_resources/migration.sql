-- Protected MCP servers behind the gateway (src/resources/), and what the gateway last saw of each.
CREATE TABLE "Resource" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "slug" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "upstream" TEXT NOT NULL,
    "toolScopes" TEXT NOT NULL DEFAULT '{}',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

CREATE UNIQUE INDEX "Resource_slug_key" ON "Resource"("slug");

CREATE TABLE "ResourceHealth" (
    "resourceId" TEXT NOT NULL PRIMARY KEY,
    "lastOkAt" DATETIME,
    "lastErrorAt" DATETIME,
    "lastError" TEXT,
    "latencyMs" INTEGER,
    "updatedAt" DATETIME NOT NULL
);
