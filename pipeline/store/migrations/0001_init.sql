-- Passerelle's system of record. PostgreSQL holds every accepted fact until every
-- destination of its route has recorded an outcome; Kafka is only the transport.

-- The outbox: one row per accepted fact version (a canonical message).
CREATE TABLE outbox (
    seq           bigserial   PRIMARY KEY,           -- acceptance order, for the relay
    id            uuid        NOT NULL UNIQUE,       -- the canonical message id
    type          text        NOT NULL,              -- CloudEvents type
    subject       text        NOT NULL,              -- canonical person id
    source        text        NOT NULL,              -- CloudEvents source
    dataschema    text        NOT NULL,
    connector     text        NOT NULL,              -- source connector instance
    fact_system   text        NOT NULL,
    fact_ref      text        NOT NULL,
    fact_version  bigint      NOT NULL,
    event_time    timestamptz NOT NULL,
    data          bytea,                             -- canonical data; NULL once purged
    content_hash  bytea       NOT NULL,              -- sha256 of data
    accepted_at   timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,                       -- broker acknowledged (last time)
    publish_count integer     NOT NULL DEFAULT 0,
    settled_at    timestamptz                        -- every destination has an outcome
);
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_unsettled ON outbox (published_at) WHERE settled_at IS NULL AND published_at IS NOT NULL;
CREATE INDEX outbox_subject ON outbox (subject);
CREATE INDEX outbox_fact ON outbox (fact_system, fact_ref, fact_version);

-- Dedup: the newest version accepted of each source fact.
CREATE TABLE dedup (
    fact_system  text        NOT NULL,
    fact_ref     text        NOT NULL,
    version      bigint      NOT NULL,
    message_id   uuid        NOT NULL,
    content_hash bytea       NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (fact_system, fact_ref)
);

-- Source checkpoints: the position after the last fact committed, per source instance.
CREATE TABLE checkpoints (
    source     text        PRIMARY KEY,
    position   text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Deliveries: one row per message × destination, created pending at ingest.
CREATE TABLE deliveries (
    message_id      uuid        NOT NULL REFERENCES outbox (id),
    destination     text        NOT NULL,
    route           text        NOT NULL,
    fact_system     text        NOT NULL,
    fact_ref        text        NOT NULL,
    fact_version    bigint      NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'superseded', 'quarantined')),
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    idempotency_key text        NOT NULL,
    receipt         jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, destination)
);
CREATE INDEX deliveries_pending ON deliveries (destination, created_at) WHERE status = 'pending';
CREATE INDEX deliveries_fact ON deliveries (destination, fact_system, fact_ref, fact_version)
    WHERE status = 'delivered';

-- Quarantine: what could not go on, with its reason (never personal data) and the
-- original bytes, replayable at the stage that failed.
CREATE TABLE quarantine (
    id              bigserial   PRIMARY KEY,
    stage           text        NOT NULL,            -- decode, map, validate, ingest, deliver
    connector       text        NOT NULL,            -- source connector, or destination at deliver
    route           text,
    destination     text,
    message_id      uuid,
    fact_system     text,
    fact_ref        text,
    fact_version    bigint,
    reason          text        NOT NULL,
    violations      jsonb,                           -- [{pointer, keyword}] without values
    raw             bytea,                           -- original bytes; NULL once purged
    content_type    text        NOT NULL DEFAULT 'application/octet-stream',
    attempts        integer     NOT NULL DEFAULT 1,
    first_failed_at timestamptz NOT NULL DEFAULT now(),
    last_failed_at  timestamptz NOT NULL DEFAULT now(),
    status          text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'replayed')),
    replay_count    integer     NOT NULL DEFAULT 0,
    replayed_at     timestamptz
);
CREATE INDEX quarantine_open ON quarantine (stage, connector) WHERE status = 'open';

-- Audit: every ingest, delivery, quarantine and replay; references, never payloads;
-- chained by hash (h_i = H(h_{i-1} || row_i)), seq without gaps.
CREATE TABLE audit (
    seq          bigint      PRIMARY KEY,
    at           timestamptz NOT NULL,
    actor        text        NOT NULL,               -- connector, destination or operator
    action       text        NOT NULL,               -- ingest, stale, duplicate, deliver, quarantine, replay, ...
    message_id   uuid,
    route        text,
    destination  text,
    legal_basis  text,
    outcome      text        NOT NULL,
    reference    text,                               -- receipt id, quarantine id, fact ref
    prev_hash    bytea       NOT NULL,
    hash         bytea       NOT NULL
);
CREATE INDEX audit_message ON audit (message_id);

-- Identities: each system's identifier of a person, linked to one canonical person id.
CREATE TABLE identities (
    system      text        NOT NULL,                -- GENESIS_ECROU, APPI_DOSSIER, PRISME_DOSSIER, ...
    identifier  text        NOT NULL,
    person_id   text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (system, identifier)
);
CREATE INDEX identities_person ON identities (person_id);

-- Audit heads: the chain's head recorded before retention cuts its tail, so that the
-- rows kept still verify from there.
CREATE TABLE audit_heads (
    seq         bigint      PRIMARY KEY,
    hash        bytea       NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
