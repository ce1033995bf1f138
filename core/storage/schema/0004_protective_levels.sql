-- Protective levels (stop-loss, take-profit) of open positions: one row per market, bound to
-- the position they were set for by its side and opening time, removed with that position.
-- Prices are exact Decimal strings; *_order hold the client order ids of exchange-side orders.
CREATE TABLE protective_levels (
    venue              TEXT NOT NULL,
    symbol             TEXT NOT NULL,
    side               TEXT NOT NULL,
    opened_ts          INTEGER NOT NULL,
    stop_loss          TEXT,
    stop_loss_source   TEXT,
    take_profit        TEXT,
    take_profit_source TEXT,
    placement          TEXT NOT NULL,
    stop_loss_order    TEXT,
    take_profit_order  TEXT,
    updated_ts         INTEGER NOT NULL,
    PRIMARY KEY (venue, symbol)
);
