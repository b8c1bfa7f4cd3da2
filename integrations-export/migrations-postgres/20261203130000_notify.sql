-- Wakes idle outbox workers on every replica at each enqueue
-- (LISTEN integrations_exports_enqueued), instead of waiting for their poll.
CREATE OR REPLACE FUNCTION integrations_exports_enqueued() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('integrations_exports_enqueued', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS integrations_exports_enqueued ON integrations_exports;
CREATE TRIGGER integrations_exports_enqueued
    AFTER INSERT ON integrations_exports
    FOR EACH STATEMENT EXECUTE FUNCTION integrations_exports_enqueued();
