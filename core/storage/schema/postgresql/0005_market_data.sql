-- The PostgreSQL form of ../0005_market_data.sql.
CREATE TABLE funding_rates (
    venue  TEXT COLLATE "C" NOT NULL,
    symbol TEXT COLLATE "C" NOT NULL,
    ts     BIGINT NOT NULL,
    rate   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (venue, symbol, ts)
);

CREATE TABLE market_stats (
    venue            TEXT COLLATE "C" NOT NULL,
    symbol           TEXT COLLATE "C" NOT NULL,
    ts               BIGINT NOT NULL,
    spread_bps       DOUBLE PRECISION,
    bid_depth        DOUBLE PRECISION,
    ask_depth        DOUBLE PRECISION,
    funding_rate     DOUBLE PRECISION,
    next_funding_ts  BIGINT,
    open_interest    DOUBLE PRECISION,
    long_short_ratio DOUBLE PRECISION,
    PRIMARY KEY (venue, symbol, ts)
);
