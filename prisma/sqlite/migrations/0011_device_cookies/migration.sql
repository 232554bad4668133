-- CreateTable
CREATE TABLE "DeviceCookie" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "userId" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" DATETIME NOT NULL,
    CONSTRAINT "DeviceCookie_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "DeviceCookie_userId_idx" ON "DeviceCookie"("userId");

-- CreateIndex
CREATE INDEX "DeviceCookie_expiresAt_idx" ON "DeviceCookie"("expiresAt");

