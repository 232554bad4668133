-- CreateTable
CREATE TABLE "DeviceCookie" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "DeviceCookie_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "DeviceCookie_userId_idx" ON "DeviceCookie"("userId");

-- CreateIndex
CREATE INDEX "DeviceCookie_expiresAt_idx" ON "DeviceCookie"("expiresAt");

-- AddForeignKey
ALTER TABLE "DeviceCookie" ADD CONSTRAINT "DeviceCookie_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

