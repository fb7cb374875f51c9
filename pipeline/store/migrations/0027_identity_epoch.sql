-- Each hub process keeps the identifier links it has seen in memory (identityCache), so
-- that the facts of a person already seen do not probe the identities table again. A
-- link changes only when an operator merges two persons (DecideIdentityReview), which
-- raises this epoch in its transaction; a process that reads another epoch than its
-- cache's empties the cache.
CREATE TABLE identity_epoch (
    single boolean PRIMARY KEY DEFAULT true CHECK (single),
    epoch  bigint  NOT NULL
);
INSERT INTO identity_epoch (epoch) VALUES (0);
