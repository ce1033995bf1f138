"""aiosqlite repository: migrations, orders, fills, positions, parameters, candles, audit log."""

from core.storage.audit import AuditEntry, AuditVerification, export_audit, verify_audit_file
from core.storage.database import Database
from core.storage.errors import DuplicateOrderError, SchemaTooNewError, StorageError

__all__ = [
    "AuditEntry",
    "AuditVerification",
    "Database",
    "DuplicateOrderError",
    "SchemaTooNewError",
    "StorageError",
    "export_audit",
    "verify_audit_file",
]
