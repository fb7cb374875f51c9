-- A payload longer than about 2 KB (a penal record is 2.8 KB) was compressed with pglz
-- at every insert, or moved to the TOAST table, and decompressed again when the relay
-- read it: CPU on the path of every fact, to save disk on rows that live only until
-- retention purges their payload. Rows up to a page are now kept inline as they are;
-- larger payloads are still compressed and moved out.
ALTER TABLE outbox SET (toast_tuple_target = 8160);
