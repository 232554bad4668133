-- Issue 29 item 2 and issue 28 item 6: email (src/mail/). ADD COLUMN and a new table only (no rebuild of ApiKey, so 0017's triggers stay).
-- When an account proved its email address (EMAIL_VERIFICATION=required refuses log-in until then).
ALTER TABLE "User" ADD COLUMN "emailVerifiedAt" DATETIME;
-- When the owner was mailed that the key expires within 7 days: sent once per key.
ALTER TABLE "ApiKey" ADD COLUMN "expiryNoticeSentAt" DATETIME;

-- Single-use links (password reset, email verification), stored as the SHA-256 of the token.
CREATE TABLE "EmailToken" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "userId" TEXT NOT NULL,
    "purpose" TEXT NOT NULL,
    "expiresAt" DATETIME NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "EmailToken_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "EmailToken_userId_idx" ON "EmailToken"("userId");

-- CreateIndex
CREATE INDEX "EmailToken_expiresAt_idx" ON "EmailToken"("expiresAt");
