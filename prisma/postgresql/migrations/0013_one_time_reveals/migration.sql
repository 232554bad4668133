-- CreateTable
CREATE TABLE "OneTimeReveal" (
    "id" TEXT NOT NULL,
    "sessionId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "ciphertext" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "OneTimeReveal_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "OneTimeReveal_sessionId_idx" ON "OneTimeReveal"("sessionId");

-- CreateIndex
CREATE INDEX "OneTimeReveal_expiresAt_idx" ON "OneTimeReveal"("expiresAt");

-- AddForeignKey
ALTER TABLE "OneTimeReveal" ADD CONSTRAINT "OneTimeReveal_sessionId_fkey" FOREIGN KEY ("sessionId") REFERENCES "Session"("id") ON DELETE CASCADE ON UPDATE CASCADE;
