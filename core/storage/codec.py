"""Turning models and payloads into rows and text, exactly and the same way every time.

Decimals become their exact string, enums their value and booleans 0/1, so what is read back
compares equal to what was written. Canonical JSON (sorted keys, no spaces, Decimal as string)
is what the audit chain hashes, so it must never depend on dict order or float formatting.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import to_json

from core.redact import redact
from core.storage.errors import StorageError

M = TypeVar("M", bound=BaseModel)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


_PLAIN = frozenset({str, int, bool, type(None)})
_TEXT = frozenset({str})


def canonical_json(value: Any) -> str:
    if type(value) is dict and set(map(type, value.values())) <= _PLAIN and set(map(type, value)) <= _TEXT:
        text = _flat_json({key: value[key] for key in sorted(value)})
        if text is not None:
            return text
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
            default=_json_default,
        )
    except (TypeError, ValueError) as exc:
        raise StorageError(f"cannot store as JSON: {exc}") from exc


def sorted_flat_json(payload: dict[str, Any]) -> str:
    """``canonical_json`` of a flat payload (str, int, bool or None values) built with its keys
    in sorted order (``flat_dump`` with ``keys``): an order's row, written twice per order,
    without the checks, the sort and a copy in sorted order."""
    text = _flat_json(payload)
    return canonical_json(payload) if text is None else text


def _flat_json(payload: dict[str, Any]) -> str | None:
    """pydantic-core writes a flat payload, its keys in sorted order, 3x faster than the json
    module, byte for byte the same text. It refuses what the json module lets through (a lone
    surrogate): None, and the json module's way is taken."""
    try:
        return to_json(payload).decode()
    except ValueError:
        return None


def redact_payload(value: Any) -> Any:
    """A copy of ``value`` with every string (keys too) passed through ``core.redact``."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(key)): redact_payload(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_payload(item) for item in value]
    return value


def redacted_json(payload: dict[str, Any], text: str | None = None) -> tuple[dict[str, Any], str]:
    """The payload with secrets masked, and its canonical JSON (``text``, when the caller has it).

    A guard, not the primary defence: callers must keep secrets out of payloads, this only
    makes sure a slip never reaches the append-only log, where it could not be removed. On the
    order path it costs one scan of the serialised text; only when that text holds a secret, or
    an escape behind which one could hide, is the payload walked string by string.
    """
    if text is None:
        text = canonical_json(payload)
    if "\\" not in text and redact(text) == text:
        return payload, text
    clean = redact_payload(payload)
    return clean, canonical_json(clean)


# Each enum member's value, looked up: ``Enum.value`` is a descriptor call (~0.3 us), and an
# order has four enum fields, dumped twice an order.
_ENUM_VALUES: dict[Enum, Any] = {}


def flat_dump(model: BaseModel, keys: Sequence[str] | None = None) -> dict[str, Any]:
    """``model.model_dump(mode="json")`` of a model whose fields hold only str, int, bool, None,
    Decimal (its ``str``, as pydantic writes it) and enums of those: an order's, twice per order,
    in 3.8 us instead of pydantic's 6.7. Any other value takes pydantic's way. With ``keys``
    (every field among them), the dump has those keys in that order, those that are no field
    None: places for the caller to fill, so that a payload in sorted order stays sorted."""
    fields = model.__dict__
    dump: dict[str, Any] = {}
    for name, value in (fields.items() if keys is None else zip(keys, map(fields.get, keys), strict=True)):
        kind = type(value)
        if kind in _PLAIN:
            dump[name] = value
        elif kind is Decimal:
            dump[name] = str(value)
        elif isinstance(value, Enum):
            plain = _ENUM_VALUES.get(value)
            if plain is None:
                plain = value.value
                if type(plain) not in _PLAIN:
                    return _pydantic_dump(model, keys)
                _ENUM_VALUES[value] = plain
            dump[name] = plain
        else:
            return _pydantic_dump(model, keys)
    return dump


def _pydantic_dump(model: BaseModel, keys: Sequence[str] | None) -> dict[str, Any]:
    dump = model.model_dump(mode="json")
    return dump if keys is None else {key: dump.get(key) for key in keys}


def model_row(model: BaseModel, columns: Sequence[str]) -> tuple[Any, ...]:
    """Pydantic's JSON mode already writes Decimals exactly (``str``) and enums as values."""
    dump = flat_dump(model)
    return tuple(dump[column] for column in columns)


def row_model(cls: type[M], row: Sequence[Any], columns: Sequence[str]) -> M:
    """Pydantic turns the stored strings back into Decimals and enums, and 0/1 into bools."""
    return cls.model_validate(dict(zip(columns, row, strict=True)))


def placeholders(count: int) -> str:
    return ", ".join("?" * count)
