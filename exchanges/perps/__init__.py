"""Dedicated perpetuals venues over ccxt (Hyperliquid, Binance USDⓈ-M)."""
