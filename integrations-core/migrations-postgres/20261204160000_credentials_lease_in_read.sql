-- The refresh lease wholly in clear beside the sealed row, so a read can
-- take it in the same statement (PgStore::get_for_refresh): its owner
-- beside its expiry, and whether the row can be refreshed at all (active
-- OAuth 2 tokens with a refresh token; NULL for rows written before this
-- column, which a read may lease and the TokenManager then looks at).
-- The columns are the lease; the sealed row's copy is not read.
ALTER TABLE integrations_credentials ADD COLUMN IF NOT EXISTS lease_owner TEXT;
ALTER TABLE integrations_credentials ADD COLUMN IF NOT EXISTS refreshable BOOLEAN;
