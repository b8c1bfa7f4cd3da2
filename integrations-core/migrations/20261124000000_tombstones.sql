-- A deleted connection leaves a tombstone (deleted = 1, secret columns
-- emptied) so its version keeps counting up: a connection deleted and put
-- again never gets a version it had before, and a compare-and-swap that
-- read the old row cannot succeed on the new one.
ALTER TABLE credentials ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
