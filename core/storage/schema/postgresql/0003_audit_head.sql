-- The chain's last link, updated in the same transaction as every new entry: the PostgreSQL
-- form of ../0003_audit_head.sql. A write transaction locks this table first (EXCLUSIVE: readers
-- go on), so two programs writing one database take turns and build one chain.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) SELECT 1, seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1;
