"""An example OpenTrade plugin package: one strategy, registered in pyproject.toml."""
