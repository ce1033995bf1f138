"""Keep a DataTable in step with a list of rows without rebuilding it: rows have stable keys,
changed cells are updated in place and the cursor stays where the trader left it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.widgets import DataTable

Cell = str | Text


def sync_rows(table: DataTable, rows: Mapping[str, Sequence[Cell]]) -> None:
    existing = set(str(key.value) for key in table.rows)
    columns = list(table.columns)
    for key in existing - rows.keys():
        table.remove_row(key)
    for key, cells in rows.items():
        if key in existing:
            for column, cell in zip(columns, cells, strict=True):
                if table.get_cell(key, column) != cell:
                    table.update_cell(key, column, cell)
        else:
            table.add_row(*cells, key=key)


def selected_key(table: DataTable) -> str | None:
    """The key of the row under the cursor, or None for an empty table."""
    if table.row_count == 0:
        return None
    row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
    return None if row_key.value is None else str(row_key.value)
