-- The refresh lease, in clear beside the sealed row: until when a
-- TokenManager holds it (NULL: nobody). The row's NOTIFY now goes only for
-- writes without a lease (a refreshed token, a lease given back, new
-- credentials, a delete): replicas waiting for a refresh wait for those,
-- and the write that takes a lease woke them for nothing.
ALTER TABLE integrations_credentials ADD COLUMN IF NOT EXISTS leased_until TIMESTAMPTZ;

DROP TRIGGER IF EXISTS integrations_credentials_changed ON integrations_credentials;
CREATE TRIGGER integrations_credentials_changed
    AFTER INSERT OR UPDATE ON integrations_credentials
    FOR EACH ROW WHEN (NEW.leased_until IS NULL)
    EXECUTE FUNCTION integrations_credentials_changed();
