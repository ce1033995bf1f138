-- Market data beyond prices, from the data service (core/marketdata): each funding payment's
-- rate of a perpetual, and what was read of a market at each collection (book summary,
-- funding, open interest, long/short ratio; NULL where the venue does not provide it).
CREATE TABLE funding_rates (
    venue  TEXT NOT NULL,
    symbol TEXT NOT NULL,
    ts     INTEGER NOT NULL,
    rate   REAL NOT NULL,
    PRIMARY KEY (venue, symbol, ts)
) WITHOUT ROWID;

CREATE TABLE market_stats (
    venue            TEXT NOT NULL,
    symbol           TEXT NOT NULL,
    ts               INTEGER NOT NULL,
    spread_bps       REAL,
    bid_depth        REAL,
    ask_depth        REAL,
    funding_rate     REAL,
    next_funding_ts  INTEGER,
    open_interest    REAL,
    long_short_ratio REAL,
    PRIMARY KEY (venue, symbol, ts)
) WITHOUT ROWID;
