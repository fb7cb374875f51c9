-- The hub's database role: what `passerelle serve` and the operator commands need, and
-- no way to rewrite history. The audit log is append-only for it: INSERT and SELECT,
-- never UPDATE, DELETE or TRUNCATE; its tail is cut only by passerelle_cut_audit
-- (retention), which keeps the chain verifiable and refuses recent rows.
--
-- Deployments run the migrations as an owner role (the DBA's, or a migration job's)
-- and `serve` as a login role granted passerelle_hub:
--   CREATE ROLE passerelle_app LOGIN PASSWORD '...' IN ROLE passerelle_hub;

-- The grants, in a function so that an owner can apply them again (after creating the
-- role by hand where the migrating user may not create roles: SELECT
-- passerelle_grant_hub();). Tables of later migrations get them by default privileges.
CREATE FUNCTION passerelle_grant_hub() RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    GRANT USAGE ON SCHEMA public TO passerelle_hub;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO passerelle_hub;
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO passerelle_hub;
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO passerelle_hub;
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO passerelle_hub;
    -- History: appended, read, never rewritten. The anchors are written by
    -- passerelle_cut_audit only; the migrations are the owner's.
    REVOKE UPDATE, DELETE, TRUNCATE ON audit FROM passerelle_hub;
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_heads FROM passerelle_hub;
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM passerelle_hub;
    GRANT EXECUTE ON FUNCTION passerelle_cut_audit(timestamptz) TO passerelle_hub;
END
$$;
REVOKE ALL ON FUNCTION passerelle_grant_hub() FROM PUBLIC;

-- Roles belong to the whole cluster, so the role is created only when missing (several
-- databases of one cluster, the tests' among them, may migrate at once). A migrating
-- user that may not create roles leaves a warning, not a failed start: the DBA creates
-- the role and applies the grants as above.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'passerelle_hub') THEN
        BEGIN
            CREATE ROLE passerelle_hub NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN
                NULL; -- created meanwhile by another database's migration
            WHEN insufficient_privilege THEN
                RAISE WARNING 'passerelle: role passerelle_hub not created (no CREATEROLE): create it, then SELECT passerelle_grant_hub()';
                RETURN;
        END;
    END IF;
    PERFORM passerelle_grant_hub();
END
$$;
