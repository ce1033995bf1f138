-- The chain's last link, updated in the same transaction as every new entry. Deleting entries
-- from the end of the log leaves a valid but shorter chain; comparing with this row shows it.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) SELECT 1, seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1;
