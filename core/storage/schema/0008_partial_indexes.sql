-- Three indexes now hold only the rows their queries look for.
--
-- orders_open was (is_open, venue, symbol) over every order: an order's first write put an entry
-- under is_open 1, its last moved it under 0 (a delete and an insert, on every order, for an
-- immediate-or-cancel order a moment later), and the closed orders' entries, nearly all of
-- them, served no query. It now holds the open orders alone, by creation time, which is how the
-- one read of them asks (load_orders(open_only=True), at start-up, written "WHERE is_open": a
-- partial index serves a query whose WHERE holds its own, not a bound "is_open = ?"): EXPLAIN
-- QUERY PLAN, 200,000 orders of which 10 open: SCAN orders USING INDEX orders_open, 0.14 ms,
-- no sort. An open-orders read filtered by venue, market or strategy as well (no caller reads
-- them so: the engine keeps the open orders in memory) is served by the other indexes.
--
-- orders_strategy is read by "strategy_id = ?" only, never for the orders placed by hand (no
-- strategy), which now stay out of it.
--
-- audit_kind leaves out the log's bulk, the order entries (two or more an order): a read of
-- them walks seq back and finds them at once (EXPLAIN QUERY PLAN: SCAN audit_log, 0.15 ms for
-- the last 500 of 300,000 entries), and a read of another kind adds "kind <> 'order'" to its
-- WHERE, as the index's own, so that it is served by it (SEARCH audit_log USING COVERING INDEX
-- audit_kind, 0.10 ms for the last 100 of 300 agent decisions among them; 4.2 ms without).
--
-- Measured on the writer's batches of bench_order_path's throughput phase (32 new + 32 canceled
-- orders a transaction, applied on one thread): the two order indexes, WAL frames a commit
-- 50.6 -> 46.0, callgrind 247.3k -> 241.5k instructions an order, CPU 41.2 -> 37.1 us an order
-- (5 A/B pairs); audit_kind, frames 45.7 -> 42.3, 238.5k -> 236.4k instructions.
DROP INDEX orders_open;
CREATE INDEX orders_open ON orders (created_ts) WHERE is_open;
DROP INDEX orders_strategy;
CREATE INDEX orders_strategy ON orders (strategy_id, created_ts) WHERE strategy_id IS NOT NULL;
DROP INDEX audit_kind;
CREATE INDEX audit_kind ON audit_log (kind, seq) WHERE kind <> 'order';
