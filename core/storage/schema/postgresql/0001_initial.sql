-- Orders, their event history, fills and the append-only audit log: the PostgreSQL form of
-- ../0001_initial.sql. Prices, sizes and money are TEXT holding exact Decimal strings, as in
-- SQLite, so that a value reads back exactly as it was written on both; timestamps are BIGINT
-- milliseconds. "rowid" keeps the insertion order SQLite keeps as its rowid: listings use it
-- to order rows with equal timestamps the same way on both.

CREATE TABLE orders (
    client_order_id TEXT PRIMARY KEY,
    venue           TEXT NOT NULL,
    symbol          TEXT NOT NULL,
    side            TEXT NOT NULL,
    type            TEXT NOT NULL,
    size            TEXT NOT NULL,
    price           TEXT,
    trigger_price   TEXT,
    trailing_offset TEXT,
    time_in_force   TEXT NOT NULL,
    post_only       BOOLEAN NOT NULL,
    reduce_only     BOOLEAN NOT NULL,
    leverage        INTEGER,
    take_profit     TEXT,
    stop_loss       TEXT,
    strategy_id     TEXT,
    venue_order_id  TEXT,
    status          TEXT NOT NULL,
    is_open         BOOLEAN NOT NULL,
    filled_size     TEXT NOT NULL,
    avg_price       TEXT,
    fee             TEXT NOT NULL,
    reason          TEXT,
    created_ts      BIGINT NOT NULL,
    updated_ts      BIGINT NOT NULL,
    rowid           BIGSERIAL NOT NULL
);
CREATE INDEX orders_open ON orders (is_open, venue, symbol);
CREATE INDEX orders_venue_symbol ON orders (venue, symbol, created_ts);
CREATE INDEX orders_strategy ON orders (strategy_id, created_ts);
CREATE INDEX orders_created ON orders (created_ts);

CREATE TABLE order_events (
    id              BIGSERIAL PRIMARY KEY,
    client_order_id TEXT NOT NULL REFERENCES orders (client_order_id),
    ts              BIGINT NOT NULL,
    event           TEXT NOT NULL,
    status          TEXT NOT NULL,
    filled_size     TEXT NOT NULL,
    detail          TEXT,
    actor           TEXT NOT NULL,
    audit_seq       BIGINT NOT NULL
);
CREATE INDEX order_events_order ON order_events (client_order_id, id);

-- No foreign key to orders: a venue may report fills of an order this database never saw.
-- Fills are partitioned by month of ts (partitions are created as rows arrive, see
-- core/storage/dialect.py), or a TimescaleDB hypertable where that extension is installed.
-- A partitioned table's unique keys must include ts, so a fill's id is kept unique by fill_ids.
CREATE TABLE fill_ids (fill_id TEXT PRIMARY KEY);

-- A table of rows in time (ts, milliseconds): partitioned by range of ts, or a hypertable with
-- 30-day chunks when TimescaleDB is installed in this database (not on the test machines).
CREATE FUNCTION opentrade_time_table(name TEXT, columns TEXT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        EXECUTE format('CREATE TABLE %I (%s)', name, columns);
        PERFORM create_hypertable(name::regclass, 'ts', chunk_time_interval => 2592000000);
    ELSE
        EXECUTE format('CREATE TABLE %I (%s) PARTITION BY RANGE (ts)', name, columns);
    END IF;
END
$$;

SELECT opentrade_time_table('fills', '
    fill_id         TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    venue_order_id  TEXT,
    venue           TEXT NOT NULL,
    symbol          TEXT NOT NULL,
    side            TEXT NOT NULL,
    price           TEXT NOT NULL,
    size            TEXT NOT NULL,
    fee             TEXT NOT NULL,
    fee_currency    TEXT NOT NULL,
    liquidity       TEXT NOT NULL,
    ts              BIGINT NOT NULL,
    strategy_id     TEXT,
    rowid           BIGSERIAL NOT NULL');
CREATE INDEX fills_id ON fills (fill_id);
CREATE INDEX fills_order ON fills (client_order_id);
CREATE INDEX fills_venue_symbol ON fills (venue, symbol, ts);
CREATE INDEX fills_strategy ON fills (strategy_id, ts);
CREATE INDEX fills_ts ON fills (ts);

CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    ts        BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    actor     TEXT NOT NULL,
    symbol    TEXT,
    payload   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_kind ON audit_log (kind, seq);
CREATE INDEX audit_ts ON audit_log (ts);
CREATE INDEX audit_symbol ON audit_log (symbol, seq);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', lower(TG_OP) USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
