-- Who holds each claim, so a restarted process takes its own back at once.
ALTER TABLE integrations_exports ADD COLUMN IF NOT EXISTS owner TEXT;
