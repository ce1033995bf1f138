-- Funding payments settled on perpetual positions (core.models.FundingPayment): one row per
-- venue, market and funding time, so a payment read twice (after a restart, from a venue's
-- history) is recorded once. Money, rates, prices and sizes are exact Decimal strings; rate,
-- price, side and size are NULL where the venue does not say.
CREATE TABLE funding_payments (
    venue    TEXT NOT NULL,
    symbol   TEXT NOT NULL,
    ts       INTEGER NOT NULL,
    amount   TEXT NOT NULL,
    currency TEXT NOT NULL,
    rate     TEXT,
    price    TEXT,
    side     TEXT,
    size     TEXT,
    PRIMARY KEY (venue, symbol, ts)
);
CREATE INDEX funding_payments_ts ON funding_payments (ts);
