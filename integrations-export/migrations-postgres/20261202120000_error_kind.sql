-- The kind of an export's last error (`rate_limited`, `transient`,
-- `needs_reauth`, `invalid_request`, `refused`), beside its message.
ALTER TABLE integrations_exports ADD COLUMN error_kind TEXT;
