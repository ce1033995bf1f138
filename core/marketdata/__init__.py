"""Market data beyond the live feed: candle history downloads, and per-market statistics
(funding, open interest, long/short ratio, book summaries) collected on a schedule."""
