-- Current positions, balance snapshots, strategy and risk parameter history, candles and a
-- small key-value store: the PostgreSQL form of ../0002_portfolio_and_settings.sql. Text that
-- listings sort by is compared byte by byte (COLLATE "C"), as SQLite does, whatever the
-- server's locale.

CREATE TABLE positions (
    venue             TEXT COLLATE "C" NOT NULL,
    symbol            TEXT COLLATE "C" NOT NULL,
    side              TEXT COLLATE "C" NOT NULL,
    size              TEXT NOT NULL,
    entry_price       TEXT NOT NULL,
    leverage          INTEGER NOT NULL,
    margin            TEXT NOT NULL,
    mark_price        TEXT,
    unrealized_pnl    TEXT NOT NULL,
    realized_pnl      TEXT NOT NULL,
    liquidation_price TEXT,
    created_ts        BIGINT NOT NULL,
    updated_ts        BIGINT NOT NULL,
    saved_ts          BIGINT NOT NULL,
    PRIMARY KEY (venue, symbol, side)
);

CREATE TABLE balance_snapshots (
    snapshot_id BIGSERIAL PRIMARY KEY,
    venue       TEXT NOT NULL,
    ts          BIGINT NOT NULL
);
CREATE INDEX balance_snapshots_venue ON balance_snapshots (venue, snapshot_id);

CREATE TABLE balances (
    snapshot_id BIGINT NOT NULL REFERENCES balance_snapshots (snapshot_id),
    asset       TEXT COLLATE "C" NOT NULL,
    free        TEXT NOT NULL,
    used        TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, asset)
);

CREATE TABLE strategy_versions (
    name    TEXT NOT NULL,
    version INTEGER NOT NULL,
    params  TEXT NOT NULL,
    note    TEXT NOT NULL,
    ts      BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE risk_parameters (
    id     BIGSERIAL PRIMARY KEY,
    ts     BIGINT NOT NULL,
    actor  TEXT NOT NULL,
    params TEXT NOT NULL
);

-- Partitioned by month of ts as fills are, or a hypertable under TimescaleDB (0001).
SELECT opentrade_time_table('candles', '
    venue     TEXT NOT NULL,
    symbol    TEXT NOT NULL,
    timeframe TEXT NOT NULL,
    ts        BIGINT NOT NULL,
    open      DOUBLE PRECISION NOT NULL,
    high      DOUBLE PRECISION NOT NULL,
    low       DOUBLE PRECISION NOT NULL,
    close     DOUBLE PRECISION NOT NULL,
    volume    DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (venue, symbol, timeframe, ts)');

CREATE TABLE kv_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
