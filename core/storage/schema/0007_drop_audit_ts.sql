-- The audit log's index on ts served no query here: the log is read by seq (the newest first, or
-- from the start for verification and export), and a filter on ts (the gateway's since_ms, an
-- export's --since) goes with an ORDER BY seq that SQLite's planner answers by walking seq
-- (EXPLAIN QUERY PLAN: SCAN audit_log, with or without ANALYZE). Each entry, two per order,
-- still paid for keeping it. PostgreSQL keeps it (see postgresql/0007_drop_audit_ts.sql).
DROP INDEX IF EXISTS audit_ts;
