-- The PostgreSQL form of ../0007_drop_audit_ts.sql changes nothing: PostgreSQL's planner does
-- use audit_ts for a recent since_ms (a bitmap scan, then a sort by seq), where walking seq
-- back would read the whole log when fewer entries than the limit match.
SELECT 1;
