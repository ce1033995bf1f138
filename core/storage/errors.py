"""Errors the storage layer raises, each with a message a person can act on."""

from __future__ import annotations


class StorageError(Exception):
    """Something about the database file or a write stopped storage from doing its job."""


class DuplicateOrderError(StorageError):
    """A new order reused a client order id the database already holds."""


class SchemaTooNewError(StorageError):
    """The file was written by a newer OpenTrade; older code must not guess at its layout."""
