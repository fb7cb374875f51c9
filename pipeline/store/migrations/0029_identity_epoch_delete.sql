-- 0028 raised identity_epoch at any UPDATE of a link, but a link deleted by hand (a
-- DBA's clean-up, part of the table restored from a dump) raised nothing: each hub
-- process's identity cache went on resolving the identifier to the person it no
-- longer led to, and its set of the identifiers written from receipts went on leaving
-- the deleted one out of its insert, until a restart. No code of the hub deletes a
-- link; these triggers make whoever does it tell the processes, as an UPDATE does.
CREATE TRIGGER identities_epoch_delete AFTER DELETE ON identities
    FOR EACH STATEMENT EXECUTE FUNCTION passerelle_identity_epoch_raise();
CREATE TRIGGER identities_epoch_truncate AFTER TRUNCATE ON identities
    FOR EACH STATEMENT EXECUTE FUNCTION passerelle_identity_epoch_raise();
