"""Log / Audit: the hash-chained audit trail and the application log, one text filter for
both, scrollable tables."""

from __future__ import annotations

import json
import logging
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input, TabbedContent, TabPane

from tui.audit_filter import AuditFilter
from tui.changes import Changes
from tui.format import fmt_datetime
from tui.log_buffer import LogBuffer
from tui.screens.filtering import FilteredTabsScreen

AUDIT_LIMIT = 500
LEVEL_STYLE = {"ERROR": "bold red", "CRITICAL": "bold red", "WARNING": "yellow", "DEBUG": "dim"}


class LogScreen(FilteredTabsScreen):
    TITLE_TEXT = "Log / Audit"
    AUTO_FOCUS = "DataTable"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "focus_filter", "Filter", id="log-filter"),
        Binding("r", "reload", "Reload", id="log-reload"),
        Binding("a", "show_tab('audit')", "Audit trail tab", show=False, id="log-tab-audit"),
        Binding("l", "show_tab('app-log')", "Application log tab", show=False, id="log-tab-app-log"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""
        self._log_version = -1

    def compose_body(self) -> ComposeResult:
        yield Input(placeholder="filter: kind:order symbol:BTC/USDT strategy:grid actor:risk or any text (f)", id="filter", compact=True)
        with TabbedContent(id="log-tabs"):
            with TabPane("a Audit trail", id="tab-audit"):
                audit: DataTable[str | Text] = DataTable(id="audit", cursor_type="row", zebra_stripes=True)
                audit.add_columns("Seq", "Time (UTC)", "Kind", "Actor", "Details")
                yield audit
            with TabPane("l Application log", id="tab-app-log"):
                app_log: DataTable[str | Text] = DataTable(id="app-log", cursor_type="row", zebra_stripes=True)
                app_log.add_columns("Time (UTC)", "Level", "Logger", "Message")
                yield app_log

    @property
    def log_buffer(self) -> LogBuffer:
        return self.ot_app.log_buffer

    @property
    def _filter_spec(self) -> AuditFilter:
        return AuditFilter.parse(self.filter_text)

    def refresh_view(self, changes: Changes) -> None:
        super().refresh_view(changes)
        if changes.everything or changes.orders or changes.risk or changes.positions:
            self._load_audit()
        buffer = self.log_buffer
        if (buffer.version != self._log_version or changes.everything):
            self._log_version = buffer.version
            self._show_app_log(list(buffer.records))

    @work(group="audit", exclusive=True, exit_on_error=False, name="loading the audit trail")
    async def _load_audit(self) -> None:
        entries = await self.session.audit_entries(limit=AUDIT_LIMIT)
        table = self.query_one("#audit", DataTable)
        table.clear()
        spec = self._filter_spec
        for entry in sorted(entries, key=lambda e: e.seq, reverse=True):
            details = json.dumps(entry.payload, default=str, separators=(",", ":"))
            if spec.matches_entry(entry.kind, entry.actor, entry.payload, details):
                table.add_row(str(entry.seq), fmt_datetime(entry.ts), entry.kind, entry.actor, details[:200])

    def _show_app_log(self, records: list[logging.LogRecord]) -> None:
        table = self.query_one("#app-log", DataTable)
        table.clear()
        spec = self._filter_spec
        for record in reversed(records):
            message = record.getMessage()
            if spec.matches_text(record.levelname, record.name, message):
                table.add_row(fmt_datetime(int(record.created * 1000)),
                              Text(record.levelname, style=LEVEL_STYLE.get(record.levelname, "")),
                              record.name, message[:300])


    def action_reload(self) -> None:
        self.refresh_view(Changes.all())
