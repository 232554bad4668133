-- CreateTable
CREATE TABLE "OneTimeReveal" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "sessionId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "ciphertext" TEXT NOT NULL,
    "expiresAt" DATETIME NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "OneTimeReveal_sessionId_fkey" FOREIGN KEY ("sessionId") REFERENCES "Session" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "OneTimeReveal_sessionId_idx" ON "OneTimeReveal"("sessionId");

-- CreateIndex
CREATE INDEX "OneTimeReveal_expiresAt_idx" ON "OneTimeReveal"("expiresAt");
