-- A key's end (expiry, a roll's scheduled end) and its limits changed: a `changed` event for the
-- resource servers that cache verifications (0017), as for its scopes or binding. Without it, a
-- separate server's cache kept a rolled key working past the end of its overlap window.
DROP TRIGGER "ApiKey_event_changed";
CREATE TRIGGER "ApiKey_event_changed" AFTER UPDATE OF "hash", "userId", "scopes", "resource", "organizationId", "appId", "dpopJkt", "expiresAt", "allowedIps", "rateLimit" ON "ApiKey"
    WHEN OLD."revokedAt" IS NULL
BEGIN
    INSERT INTO "KeyEvent" ("keyHash", "audience", "kind") VALUES (OLD."hash", OLD."resource", 'changed');
END;
