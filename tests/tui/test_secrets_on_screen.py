"""A key that leaks into a log line (a library logging a signed URL, say) never reaches the
screen: the Log screen shows it masked."""

from __future__ import annotations

import logging
from typing import Any

from textual.widgets import DataTable

from core.clock import SimClock
from core.secrets import load_credentials
from tests.tui.conftest import settle, wait_ready

KEY = "live-api-key-7f3a9c2e51"
SECRET = "live-secret-0b8d4e6f92"


async def test_a_leaked_key_is_masked_on_the_log_screen(make_app: Any, clock: SimClock) -> None:
    load_credentials("bn", environ={"OPENTRADE_BN_API_KEY": KEY, "OPENTRADE_BN_SECRET": SECRET})
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        logging.getLogger("ccxt.base.exchange").warning("GET https://api.example/account?apiKey=%s&sig=%s", KEY, SECRET)
        await pilot.press("6")
        await settle(pilot, 4)
        table = app.screen.query_one("#app-log", DataTable)
        shown = [" ".join(str(cell) for cell in table.get_row_at(i)) for i in range(table.row_count)]
        leaked = [line for line in shown if "apiKey=" in line]
        assert leaked and all("apiKey=***&sig=***" in line for line in leaked)
        screen = app.export_screenshot()
        assert KEY not in screen and SECRET not in screen
