"""Keep a DataTable in step with a list of rows without rebuilding it: rows have stable keys,
changed cells are updated in place and the cursor stays where the trader left it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.widgets import DataTable

Cell = str | Text


def sync_rows(table: DataTable, rows: Mapping[str, Sequence[Cell]], *, ordered: bool = False) -> None:
    """``ordered``: the table shows the rows in the order given (newest first, say); rows that
    arrive at the top rebuild it, with the cursor kept on the row it was on."""
    order = [str(key.value) for key in table.rows]
    existing = set(order)
    if ordered and [key for key in order if key in rows] + [key for key in rows if key not in existing] != list(rows):
        selected = selected_key(table)
        table.clear()
        for key, cells in rows.items():
            table.add_row(*cells, key=key)
        if selected is not None and selected in rows:
            table.move_cursor(row=table.get_row_index(selected))
        return
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
