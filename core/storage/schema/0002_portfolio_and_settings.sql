-- Current positions, balance snapshots, strategy and risk parameter history, candles and a
-- small key-value store for interface and risk state.

CREATE TABLE positions (
    venue             TEXT NOT NULL,
    symbol            TEXT NOT NULL,
    side              TEXT NOT NULL,
    size              TEXT NOT NULL,
    entry_price       TEXT NOT NULL,
    leverage          INTEGER NOT NULL,
    margin            TEXT NOT NULL,
    mark_price        TEXT,
    unrealized_pnl    TEXT NOT NULL,
    realized_pnl      TEXT NOT NULL,
    liquidation_price TEXT,
    created_ts        INTEGER NOT NULL,
    updated_ts        INTEGER NOT NULL,
    saved_ts          INTEGER NOT NULL,
    PRIMARY KEY (venue, symbol, side)
);

CREATE TABLE balance_snapshots (
    snapshot_id INTEGER PRIMARY KEY,
    venue       TEXT NOT NULL,
    ts          INTEGER NOT NULL
);
CREATE INDEX balance_snapshots_venue ON balance_snapshots (venue, snapshot_id);

CREATE TABLE balances (
    snapshot_id INTEGER NOT NULL REFERENCES balance_snapshots (snapshot_id),
    asset       TEXT NOT NULL,
    free        TEXT NOT NULL,
    used        TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, asset)
);

CREATE TABLE strategy_versions (
    name    TEXT NOT NULL,
    version INTEGER NOT NULL,
    params  TEXT NOT NULL,
    note    TEXT NOT NULL,
    ts      INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE risk_parameters (
    id     INTEGER PRIMARY KEY,
    ts     INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    params TEXT NOT NULL
);

CREATE TABLE candles (
    venue     TEXT NOT NULL,
    symbol    TEXT NOT NULL,
    timeframe TEXT NOT NULL,
    ts        INTEGER NOT NULL,
    open      REAL NOT NULL,
    high      REAL NOT NULL,
    low       REAL NOT NULL,
    close     REAL NOT NULL,
    volume    REAL NOT NULL,
    PRIMARY KEY (venue, symbol, timeframe, ts)
) WITHOUT ROWID;

CREATE TABLE kv_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
