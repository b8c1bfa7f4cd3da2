-- Encrypted credentials, one row per (tenant, provider, connection name).
-- key_id names the key that sealed the row; nonce and ciphertext are the
-- XChaCha20-Poly1305 output, with tenant, provider, name and key_id bound as
-- associated data. expires_at is kept in clear so a host can find rows to
-- refresh without decrypting them.
CREATE TABLE credentials (
    tenant     TEXT    NOT NULL,
    provider   TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    key_id     TEXT    NOT NULL,
    nonce      BLOB    NOT NULL,
    ciphertext BLOB    NOT NULL,
    expires_at TEXT,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (tenant, provider, name)
) WITHOUT ROWID;

CREATE INDEX credentials_key_id ON credentials (key_id);
