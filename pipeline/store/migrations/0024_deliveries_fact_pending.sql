-- A destination that keeps the newest version of a fact itself (PRISME) need not get
-- a version whose newer one is already waiting for it (connectors.NewestWins): the
-- deliverer asks, with each batch it fetches, whether a newer version is pending as
-- well as whether one was delivered. The index that answers the second question now
-- answers both: it also holds the pending rows (one entry more per delivery written,
-- against two fewer since 0023).
DROP INDEX IF EXISTS deliveries_fact;
CREATE INDEX deliveries_fact ON deliveries (destination, fact_system, fact_ref, fact_version)
    WHERE status IN ('pending', 'delivered');
