-- Names each credential row written (NOTIFY integrations_credentials_changed,
-- payload `["tenant","provider","name"]`), so a TokenManager on another
-- replica waiting for a refresh reads the row at once instead of polling.
CREATE OR REPLACE FUNCTION integrations_credentials_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify(
        'integrations_credentials_changed',
        json_build_array(NEW.tenant, NEW.provider, NEW.name)::text
    );
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS integrations_credentials_changed ON integrations_credentials;
CREATE TRIGGER integrations_credentials_changed
    AFTER INSERT OR UPDATE ON integrations_credentials
    FOR EACH ROW EXECUTE FUNCTION integrations_credentials_changed();
