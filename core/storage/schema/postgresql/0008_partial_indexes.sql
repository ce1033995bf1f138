-- The PostgreSQL form of ../0008_partial_indexes.sql: the same three partial indexes, used
-- by the same reads (PostgreSQL proves "strategy_id = ?" implies "strategy_id IS NOT NULL").
DROP INDEX orders_open;
CREATE INDEX orders_open ON orders (created_ts) WHERE is_open;
DROP INDEX orders_strategy;
CREATE INDEX orders_strategy ON orders (strategy_id, created_ts) WHERE strategy_id IS NOT NULL;
DROP INDEX audit_kind;
CREATE INDEX audit_kind ON audit_log (kind, seq) WHERE kind <> 'order';
