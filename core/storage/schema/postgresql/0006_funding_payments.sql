-- Funding payments settled on perpetual positions: the PostgreSQL form of
-- ../0006_funding_payments.sql.
CREATE TABLE funding_payments (
    venue    TEXT COLLATE "C" NOT NULL,
    symbol   TEXT COLLATE "C" NOT NULL,
    ts       BIGINT NOT NULL,
    amount   TEXT NOT NULL,
    currency TEXT NOT NULL,
    rate     TEXT,
    price    TEXT,
    side     TEXT,
    size     TEXT,
    PRIMARY KEY (venue, symbol, ts)
);
CREATE INDEX funding_payments_ts ON funding_payments (ts);
