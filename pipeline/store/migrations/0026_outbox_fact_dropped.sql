-- outbox_fact (0001) found a message by its fact and version. Only the rectifications
-- page asked that, for the version a destination was delivered, and the delivery row
-- it starts from already names that message. The index cost a descent and an insertion
-- at a random place at every fact's ingest, for an operator's occasional question.
DROP INDEX IF EXISTS outbox_fact;
