-- integrations-core on PostgreSQL. Tables are prefixed `integrations_`
-- so they can live in the host's own database.

-- Encrypted credentials, one row per (tenant, provider, connection name),
-- as in the SQLite store: key_id names the key that sealed the row; nonce
-- and ciphertext are the XChaCha20-Poly1305 output, with tenant, provider,
-- name and key_id bound as associated data. A deleted connection leaves a
-- tombstone (deleted, secret columns emptied) so versions never repeat.
CREATE TABLE integrations_credentials (
    tenant     TEXT        NOT NULL,
    provider   TEXT        NOT NULL,
    name       TEXT        NOT NULL,
    version    BIGINT      NOT NULL,
    key_id     TEXT        NOT NULL,
    nonce      BYTEA       NOT NULL,
    ciphertext BYTEA       NOT NULL,
    expires_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted    BOOLEAN     NOT NULL DEFAULT false,
    PRIMARY KEY (tenant, provider, name)
);

CREATE INDEX integrations_credentials_key_id ON integrations_credentials (key_id);

-- Which replica ticks each integration, until when (the database's clock).
CREATE TABLE integrations_tick_leases (
    integration TEXT        PRIMARY KEY,
    holder      TEXT        NOT NULL,
    until       TIMESTAMPTZ NOT NULL
);
