-- Operator controls: routes and sources an operator paused, so that every hub process
-- sharing this database honours the pause (each reads this table every half second).
-- A row with paused = false records the last resume. Who acted is also in the audit.
CREATE TABLE controls (
    kind       text        NOT NULL CHECK (kind IN ('route', 'source')),
    name       text        NOT NULL,                 -- route or source connector instance
    paused     boolean     NOT NULL,
    reason     text        NOT NULL DEFAULT '',      -- the operator's words: no personal data
    changed_by text        NOT NULL,                 -- operator:<name> or console:<account>
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, name)
);

-- The per-person journal lists a person's facts by subject (outbox_subject exists) and
-- their deliveries and quarantine items by message.
CREATE INDEX IF NOT EXISTS deliveries_message ON deliveries (message_id);
CREATE INDEX IF NOT EXISTS quarantine_message ON quarantine (message_id) WHERE message_id IS NOT NULL;
