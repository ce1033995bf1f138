"""The trading core: domain, events, engine, risk, orders, storage. Imports nothing of ours."""
