-- integrations-export on PostgreSQL: the outbox and export log, and the
-- export preferences. Times are the database's clock, so replicas' clocks
-- need not agree.
CREATE TABLE integrations_exports (
    id               BIGSERIAL   PRIMARY KEY,
    tenant           TEXT        NOT NULL,
    provider         TEXT        NOT NULL,
    destination      TEXT        NOT NULL,
    connection       TEXT        NOT NULL,
    idempotency_key  TEXT        NOT NULL,
    content          TEXT        NOT NULL,
    status           TEXT        NOT NULL,
    attempts         BIGINT      NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    lease_until      TIMESTAMPTZ,
    first_attempt_at TIMESTAMPTZ,
    external_id      TEXT,
    external_url     TEXT,
    requests         BIGINT,
    error            TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (tenant, idempotency_key)
);
CREATE INDEX integrations_exports_due ON integrations_exports (status, next_attempt_at);
CREATE INDEX integrations_exports_log ON integrations_exports (tenant, id);

CREATE TABLE integrations_export_preferences (
    tenant      TEXT    NOT NULL,
    deliverable TEXT    NOT NULL,
    provider    TEXT    NOT NULL,
    destination TEXT    NOT NULL,
    connection  TEXT    NOT NULL,
    auto_export BOOLEAN NOT NULL,
    PRIMARY KEY (tenant, deliverable, provider, destination)
);
