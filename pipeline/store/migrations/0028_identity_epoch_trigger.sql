-- A link that changes raises identity_epoch whoever changes it: a merge made by an
-- older binary during a rolling upgrade, or an UPDATE by hand, emptied no process's
-- identity cache before, and the caches served the old person until a restart. The
-- trigger raises it once per statement, in the statement's transaction, as the merge
-- itself did (DecideIdentityReview no longer does it).
CREATE FUNCTION passerelle_identity_epoch_raise() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, public AS $$
BEGIN
    UPDATE identity_epoch SET epoch = epoch + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER identities_epoch AFTER UPDATE OF system, identifier, person_id ON identities
    FOR EACH STATEMENT EXECUTE FUNCTION passerelle_identity_epoch_raise();
