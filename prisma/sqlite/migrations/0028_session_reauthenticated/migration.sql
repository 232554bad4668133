-- "Confirm it's you with <provider>" (src/upstream-login/link-routes.ts): when a session last proved,
-- through a provider the account has linked, that its person is at the keyboard. Null = never since
-- it began. ADD COLUMN only: nothing is rebuilt.
ALTER TABLE "Session" ADD COLUMN "reauthenticatedAt" DATETIME;
