-- The hub's text keys are codes, not words: fact systems and references, identifiers,
-- person ids, destinations, connectors. Their indexes compared them with the
-- database's collation, which for any locale but C is strcoll, at every step of every
-- descent and insertion (sorting 300,000 identifiers took twice as long with C.UTF-8
-- as with C on the project's machine). Byte order (COLLATE "C") is the order these
-- keys need: equality is unchanged, and so is the order of UTF-8 text under C.UTF-8.
-- Only the indexes are rebuilt: a change of collation does not rewrite a table.
ALTER TABLE outbox
    ALTER COLUMN subject     TYPE text COLLATE "C",
    ALTER COLUMN fact_system TYPE text COLLATE "C",
    ALTER COLUMN fact_ref    TYPE text COLLATE "C";
ALTER TABLE dedup
    ALTER COLUMN fact_system TYPE text COLLATE "C",
    ALTER COLUMN fact_ref    TYPE text COLLATE "C";
ALTER TABLE deliveries
    ALTER COLUMN destination TYPE text COLLATE "C",
    ALTER COLUMN fact_system TYPE text COLLATE "C",
    ALTER COLUMN fact_ref    TYPE text COLLATE "C";
ALTER TABLE identities
    ALTER COLUMN system     TYPE text COLLATE "C",
    ALTER COLUMN identifier TYPE text COLLATE "C",
    ALTER COLUMN person_id  TYPE text COLLATE "C";
ALTER TABLE identity_reviews
    ALTER COLUMN person_a TYPE text COLLATE "C",
    ALTER COLUMN person_b TYPE text COLLATE "C";
ALTER TABLE receipt_messages
    ALTER COLUMN fact_system TYPE text COLLATE "C",
    ALTER COLUMN fact_ref    TYPE text COLLATE "C";
ALTER TABLE rectification_acks
    ALTER COLUMN destination TYPE text COLLATE "C";
ALTER TABLE quarantine
    ALTER COLUMN stage     TYPE text COLLATE "C",
    ALTER COLUMN connector TYPE text COLLATE "C";
ALTER TABLE checkpoints
    ALTER COLUMN source TYPE text COLLATE "C";
