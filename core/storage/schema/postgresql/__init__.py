"""The PostgreSQL form of each schema migration, numbered as the SQLite form beside it."""
