-- Issue 29: upstream identity providers. Links (provider id, upstream sub) to a user. A new table
-- only: users made by an upstream log-in keep a password hash that never verifies (src/accounts/users.ts).
CREATE TABLE "UpstreamIdentity" (
    "providerId" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "email" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastLoginAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "UpstreamIdentity_pkey" PRIMARY KEY ("providerId", "subject")
);

-- CreateIndex
CREATE UNIQUE INDEX "UpstreamIdentity_providerId_userId_key" ON "UpstreamIdentity"("providerId", "userId");

-- CreateIndex
CREATE INDEX "UpstreamIdentity_userId_idx" ON "UpstreamIdentity"("userId");

-- AddForeignKey
ALTER TABLE "UpstreamIdentity" ADD CONSTRAINT "UpstreamIdentity_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;
