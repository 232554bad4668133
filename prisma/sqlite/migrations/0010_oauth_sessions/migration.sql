-- oidc-provider Session rows were keyed by the raw session cookie value, and Interaction rows copied
-- it into their payload. From now on both are stored without it (src/oauth/adapter.ts). The rows
-- written before hold it in clear and are deleted: every provider session ends (it is bound to a
-- Keyward browser session from now on anyway, src/oauth/session-binding.ts), and authorizations in
-- progress start over. (No semicolons in comments: the migration runner splits statements on them.)
DELETE FROM "OidcPayload" WHERE "model" IN ('Session', 'Interaction');
