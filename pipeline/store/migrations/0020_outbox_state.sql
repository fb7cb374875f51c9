-- The relay's and the settlement's state of each outbox row, in a narrow table of its
-- own. In the outbox row itself, marking a message published and then settled were two
-- updates of a wide row (its payload inline, five indexes) whose changed columns partial
-- indexes named, so PostgreSQL could not make them HOT: each wrote the whole row again,
-- and an entry in every index of the outbox. Here the wide row is written once, at
-- ingest, and these updates touch a row of a few dozen bytes.
--
-- A row lives from the message's acceptance until retention purges its payload: the
-- table holds what is in flight and what is still replayable, not the history (the
-- outbox, the deliveries and the audit keep that).
CREATE TABLE outbox_state (
    seq           bigint      PRIMARY KEY,           -- outbox.seq
    published_at  timestamptz,                       -- broker acknowledged (last time)
    publish_count integer     NOT NULL DEFAULT 0,
    settled_at    timestamptz                        -- every destination has an outcome
);
CREATE INDEX outbox_state_unpublished ON outbox_state (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_state_unsettled ON outbox_state (published_at) WHERE settled_at IS NULL AND published_at IS NOT NULL;
CREATE INDEX outbox_state_settled ON outbox_state (settled_at) WHERE settled_at IS NOT NULL;

INSERT INTO outbox_state (seq, published_at, publish_count, settled_at)
SELECT seq, published_at, publish_count, settled_at FROM outbox WHERE data IS NOT NULL;

DROP INDEX outbox_unpublished;
DROP INDEX outbox_unsettled;
DROP INDEX outbox_payload_age;
ALTER TABLE outbox DROP COLUMN published_at, DROP COLUMN publish_count, DROP COLUMN settled_at;
