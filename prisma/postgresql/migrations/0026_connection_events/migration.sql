-- Connection doctor (issue 26, src/doctor/): the steps and failures of OAuth connections, per client
-- and user, bounded (newest 50 per client, 14 days). Nothing here affects key verification, so no
-- key change feed trigger.
CREATE TABLE "ConnectionEvent" (
    "id" SERIAL NOT NULL,
    "clientId" TEXT NOT NULL,
    "userId" TEXT,
    "keyId" TEXT,
    "step" TEXT NOT NULL,
    "outcome" TEXT NOT NULL,
    "reason" TEXT NOT NULL DEFAULT '',
    "detail" TEXT NOT NULL DEFAULT '{}',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ConnectionEvent_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "ConnectionEvent_clientId_createdAt_idx" ON "ConnectionEvent"("clientId", "createdAt");
CREATE INDEX "ConnectionEvent_userId_createdAt_idx" ON "ConnectionEvent"("userId", "createdAt");
CREATE INDEX "ConnectionEvent_keyId_createdAt_idx" ON "ConnectionEvent"("keyId", "createdAt");
CREATE INDEX "ConnectionEvent_createdAt_idx" ON "ConnectionEvent"("createdAt");
