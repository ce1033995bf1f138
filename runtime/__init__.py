"""The composition root shared by every front end: the engine built from the configuration, and logging."""
