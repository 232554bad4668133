-- Issue 29 item 2 and issue 28 item 6: email (src/mail/). ADD COLUMN and a new table only.
-- When an account proved its email address (EMAIL_VERIFICATION=required refuses log-in until then).
ALTER TABLE "User" ADD COLUMN "emailVerifiedAt" TIMESTAMP(3);
-- When the owner was mailed that the key expires within 7 days: sent once per key.
ALTER TABLE "ApiKey" ADD COLUMN "expiryNoticeSentAt" TIMESTAMP(3);

-- Single-use links (password reset, email verification), stored as the SHA-256 of the token.
CREATE TABLE "EmailToken" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "purpose" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "EmailToken_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "EmailToken_userId_idx" ON "EmailToken"("userId");

-- CreateIndex
CREATE INDEX "EmailToken_expiresAt_idx" ON "EmailToken"("expiresAt");

-- AddForeignKey
ALTER TABLE "EmailToken" ADD CONSTRAINT "EmailToken_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;
