-- A message is settled when none of its deliveries is pending any more: the deliveries
-- already say so, and writing it a second time in outbox_state cost an update of the
-- state row after every outcome (not HOT: a partial index named the column), with row
-- locks that met the relay's. It was the largest statement of the whole path in
-- PostgreSQL. The sweep now finds what is unsettled from the pending deliveries, and
-- retention dates a settlement by the last outcome of its deliveries.
DROP INDEX outbox_state_unsettled;
DROP INDEX outbox_state_settled;
ALTER TABLE outbox_state DROP COLUMN settled_at;
