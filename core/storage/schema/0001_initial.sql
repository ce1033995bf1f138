-- Orders, their event history, fills and the append-only audit log.
-- Prices, sizes and money are TEXT holding exact Decimal strings; enums hold their values.

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
    post_only       INTEGER NOT NULL,
    reduce_only     INTEGER NOT NULL,
    leverage        INTEGER,
    take_profit     TEXT,
    stop_loss       TEXT,
    strategy_id     TEXT,
    venue_order_id  TEXT,
    status          TEXT NOT NULL,
    is_open         INTEGER NOT NULL,
    filled_size     TEXT NOT NULL,
    avg_price       TEXT,
    fee             TEXT NOT NULL,
    reason          TEXT,
    created_ts      INTEGER NOT NULL,
    updated_ts      INTEGER NOT NULL
);
CREATE INDEX orders_open ON orders (is_open, venue, symbol);
CREATE INDEX orders_venue_symbol ON orders (venue, symbol, created_ts);
CREATE INDEX orders_strategy ON orders (strategy_id, created_ts);
CREATE INDEX orders_created ON orders (created_ts);

CREATE TABLE order_events (
    id              INTEGER PRIMARY KEY,
    client_order_id TEXT NOT NULL REFERENCES orders (client_order_id),
    ts              INTEGER NOT NULL,
    event           TEXT NOT NULL,
    status          TEXT NOT NULL,
    filled_size     TEXT NOT NULL,
    detail          TEXT,
    actor           TEXT NOT NULL,
    audit_seq       INTEGER NOT NULL
);
CREATE INDEX order_events_order ON order_events (client_order_id, id);

-- No foreign key to orders: a venue may report fills of an order this database never saw
-- (placed elsewhere, found during reconciliation) and they must still be kept.
CREATE TABLE fills (
    fill_id         TEXT PRIMARY KEY,
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
    ts              INTEGER NOT NULL,
    strategy_id     TEXT
);
CREATE INDEX fills_order ON fills (client_order_id);
CREATE INDEX fills_venue_symbol ON fills (venue, symbol, ts);
CREATE INDEX fills_strategy ON fills (strategy_id, ts);
CREATE INDEX fills_ts ON fills (ts);

CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    ts        INTEGER NOT NULL,
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

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: updates are not allowed');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: deletes are not allowed');
END;
