"""The repository: migrations, orders, fills, positions, parameters, candles, audit log, in a
SQLite file or a PostgreSQL database."""

from core.storage.audit import AuditEntry, AuditVerification
from core.storage.audit_tools import export_audit, verify_audit_file
from core.storage.database import Database
from core.storage.errors import DuplicateOrderError, SchemaTooNewError, StorageError
from core.storage.interface import Storage

__all__ = [
    "AuditEntry",
    "AuditVerification",
    "Database",
    "DuplicateOrderError",
    "SchemaTooNewError",
    "Storage",
    "StorageError",
    "export_audit",
    "verify_audit_file",
]
