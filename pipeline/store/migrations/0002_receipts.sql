-- Receipts of push sources (the Cassiopée intake, its batch import): what a caller was
-- answered, so that it can ask later what became of each message, and so that the same
-- push sent again gets the same receipt. References only, never payloads.
CREATE TABLE receipts (
    id          uuid        PRIMARY KEY,
    connector   text        NOT NULL,                -- the push source instance
    caller      text        NOT NULL,                -- who pushed (a court code): the only reader
    reference   text        NOT NULL DEFAULT '',     -- the push's technical reference
    messages    integer     NOT NULL,                -- how many rows in receipt_messages
    received_at timestamptz NOT NULL DEFAULT now()
);

-- One row per message of a push, in the order of its facts and their messages.
CREATE TABLE receipt_messages (
    receipt_id    uuid    NOT NULL REFERENCES receipts (id),
    fact_index    integer NOT NULL,
    message_index integer NOT NULL,
    message_id    uuid    NOT NULL,                  -- the message, or the recorded one for a duplicate
    outcome       text    NOT NULL CHECK (outcome IN ('accepted', 'duplicate', 'stale', 'quarantined')),
    current_id    uuid,                              -- stale: the newer message recorded
    quarantine_id bigint,                            -- quarantined at ingest
    fact_system   text,
    fact_ref      text,
    fact_version  bigint,
    PRIMARY KEY (receipt_id, fact_index, message_index)
);
CREATE INDEX receipt_messages_fact ON receipt_messages (fact_system, fact_ref, fact_version);
CREATE INDEX receipt_messages_message ON receipt_messages (message_id);
