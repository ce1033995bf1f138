-- Protective levels (stop-loss, take-profit) of open positions: the PostgreSQL form of
-- ../0004_protective_levels.sql.
CREATE TABLE protective_levels (
    venue              TEXT COLLATE "C" NOT NULL,
    symbol             TEXT COLLATE "C" NOT NULL,
    side               TEXT NOT NULL,
    opened_ts          BIGINT NOT NULL,
    stop_loss          TEXT,
    stop_loss_source   TEXT,
    take_profit        TEXT,
    take_profit_source TEXT,
    placement          TEXT NOT NULL,
    stop_loss_order    TEXT,
    take_profit_order  TEXT,
    updated_ts         BIGINT NOT NULL,
    PRIMARY KEY (venue, symbol)
);
