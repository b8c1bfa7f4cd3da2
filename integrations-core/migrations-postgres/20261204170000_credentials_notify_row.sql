-- The row's NOTIFY carries the row as written, still sealed, where it fits
-- (PostgreSQL's payloads end at 8000 bytes): a replica waiting for another
-- replica's refresh takes the new token from the notification instead of
-- reading the row again. Payload `["tenant","provider","name"]`, or with
-- the row `["tenant","provider","name",version,"key_id","nonce","ciphertext"]`
-- (nonce and ciphertext in base64). Only rows without a lease notify (the
-- trigger's WHEN), and a deleted row is sent without its (emptied) value.
CREATE OR REPLACE FUNCTION integrations_credentials_changed() RETURNS trigger AS $$
BEGIN
    IF NOT NEW.deleted AND octet_length(NEW.ciphertext) <= 5000 THEN
        PERFORM pg_notify(
            'integrations_credentials_changed',
            json_build_array(
                NEW.tenant, NEW.provider, NEW.name, NEW.version, NEW.key_id,
                translate(encode(NEW.nonce, 'base64'), E'\n', ''),
                translate(encode(NEW.ciphertext, 'base64'), E'\n', '')
            )::text
        );
    ELSE
        PERFORM pg_notify(
            'integrations_credentials_changed',
            json_build_array(NEW.tenant, NEW.provider, NEW.name)::text
        );
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
