-- A delivery row is written at every fact's ingest and updated at its outcome: the
-- heaviest writes of the whole path. Two things made them heavier than they need be.
--
-- deliveries_message (0010) repeats the primary key's leading column: the primary key
-- (message_id, destination) already finds a message's deliveries, for the journal as for
-- everything else, so the index only cost an entry at every insert and every outcome.
--
-- The foreign key to the outbox ran a check per inserted row, and each check locked the
-- outbox row it found (FOR KEY SHARE), writing to the outbox page just filled. On this
-- machine 100,000 inserted deliveries took 1.43 s with both, 0.76 s without the key and
-- 0.33 s without either. The rule the key enforced is kept by the code that writes and
-- deletes the rows: a message and its deliveries are inserted in one transaction
-- (Ingest), and retention deletes a message only once it has no delivery left. The
-- crash tests check after their SIGKILLs that no delivery lacks its message.
DROP INDEX IF EXISTS deliveries_message;
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_message_id_fkey;
