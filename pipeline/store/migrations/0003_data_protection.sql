-- Data protection (issue 8): what a person's access request reads, what retention
-- purges, and the doubtful identity matches a human decides.

-- Subject access reads a person's quarantined items by message; retention finds what
-- to purge by age without reading every row. No index is added to the audit or to the
-- outbox's ingest path: the audit's tail is found walking its primary key, and a
-- purged row enters outbox_purged_age only when retention purges it.
CREATE INDEX quarantine_message ON quarantine (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX quarantine_raw_age ON quarantine (last_failed_at) WHERE raw IS NOT NULL;
CREATE INDEX outbox_payload_age ON outbox (settled_at) WHERE data IS NOT NULL AND settled_at IS NOT NULL;
CREATE INDEX outbox_purged_age ON outbox (accepted_at) WHERE data IS NULL;

-- Doubtful identity matches: a message whose person has the same name and birth date
-- as a known person (person_a) but an identifier of the same system that differs from
-- hers went on under a new id (person_b), never merged silently. An operator links
-- them (person_b's identifiers move to person_a) or keeps them apart.
CREATE TABLE identity_reviews (
    id          bigserial   PRIMARY KEY,
    person_a    text        NOT NULL,               -- the known person
    person_b    text        NOT NULL,               -- the new id the facts went on under
    reason      text        NOT NULL,               -- which systems conflict; never a value
    status      text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'linked', 'apart')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    decided_at  timestamptz,
    decided_by  text,
    UNIQUE (person_a, person_b)
);
CREATE INDEX identity_reviews_open ON identity_reviews (created_at) WHERE status = 'open';
CREATE INDEX identity_reviews_b ON identity_reviews (person_b);

-- Audit retention: the only way to cut the audit chain's tail. It records the head of
-- what it cuts in audit_heads first, so that the rows kept still verify from there,
-- and it refuses to cut rows younger than 180 days whatever the caller asks: the hub's
-- role may call it (it cannot DELETE audit rows itself, see 0004), and a compromised
-- hub must not be able to erase recent history through it. SECURITY DEFINER runs it
-- with the rights of its owner, the role that ran the migrations.
CREATE FUNCTION passerelle_cut_audit(cutoff timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    first_kept bigint;
    last_seq   bigint;
    last_hash  bytea;
    n         bigint;
BEGIN
    IF cutoff > now() - interval '180 days' THEN
        RAISE EXCEPTION 'audit rows younger than 180 days cannot be purged' USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- The same lock as appends: no row is added while the tail is cut.
    PERFORM pg_advisory_xact_lock(418581342580);
    -- Rows are cut in seq order only, up to the last one before the first row as
    -- recent as the cutoff, so that what remains is one unbroken chain. Walking the
    -- primary key from the oldest row reads only the rows to cut.
    SELECT y.seq INTO first_kept FROM audit y WHERE y.at >= cutoff ORDER BY y.seq LIMIT 1;
    SELECT a.seq, a.hash INTO last_seq, last_hash FROM audit a
    WHERE a.seq < coalesce(first_kept, 9223372036854775807)
    ORDER BY a.seq DESC LIMIT 1;
    IF last_seq IS NULL THEN
        RETURN 0;
    END IF;
    INSERT INTO audit_heads (seq, hash) VALUES (last_seq, last_hash) ON CONFLICT (seq) DO NOTHING;
    DELETE FROM audit WHERE seq <= last_seq;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION passerelle_cut_audit(timestamptz) FROM PUBLIC;
