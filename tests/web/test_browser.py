"""The app in a real browser: `opentrade web` on a free port of 127.0.0.1 with a login, Debian's
headless Chromium driven over the DevTools protocol (tests/web/chromium.py). It is refused a
wrong password, logs in, reads the Trade screen off the page's terminal, places a paper order
by typing keys into the page, finds the order in the engine's records, and keeps a screenshot
(in $OPENTRADE_TEST_ARTIFACTS when set, else beside the test's home). The sessions attach to a
gateway started first, and the order is asked of its API."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from tests.web.chromium import CHROMIUM, Page, chromium
from tests.web.conftest import engine_for_the_sessions, opentrade_web

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs Debian's chromium)"),
]

PASSWORD = "correct horse battery"
# The paper venue alone: no strategy or agent places orders of its own beside the one typed.
CONFIG = """
strategies: {}
agents: {enabled: false}
venues:
  paper:
    markets: [BTC/USDT]
"""
ARTIFACTS = os.environ.get("OPENTRADE_TEST_ARTIFACTS")  # read before each test's environment is cleared


async def submit_login(page: Page, secret: str) -> None:
    await page.wait_until("!!document.querySelector('#secret')", "the login form")
    await page.evaluate(f"document.querySelector('#secret').value = {secret!r}; document.querySelector('form').submit(); 1")


async def recorded_orders(home: Path) -> list[tuple[str, str, Decimal, str, str]]:
    """Side, type, size, symbol and venue of each order the engine recorded, asked of the
    gateway's API the sessions attach to."""
    gateway = json.loads((home / "gateway.json").read_text())
    async with aiohttp.ClientSession() as http, http.get(
            gateway["url"] + "/api/v1/orders/history",
            headers={"Authorization": "Bearer " + gateway["local_token"]}) as answer:
        rows = [(o["side"], o["type"], o["size"], o["symbol"], o["venue"]) for o in await answer.json()]
    return [(side, kind, Decimal(size), symbol, venue) for side, kind, size, symbol, venue in rows]


def artifacts(tmp_path: Path) -> Path:
    directory = Path(ARTIFACTS or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


async def test_the_trade_screen_in_a_browser_after_a_login(isolated_home: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    with engine_for_the_sessions(isolated_home, config), \
            opentrade_web(isolated_home, "--login", env={"OPENTRADE_WEB_PASSWORD": PASSWORD}, config=config) as web:
        async with chromium() as page:
            await page.open(web.url)
            assert await page.evaluate("location.pathname") == "/login"

            await submit_login(page, "not the password")
            await page.wait_until("!!document.querySelector('#error') && document.querySelector('#error').textContent",
                                  "the refusal")
            assert await page.evaluate("document.querySelector('#error').textContent") == "Wrong password or token."
            assert await page.evaluate("window.__terminal === undefined")  # no app was started

            await submit_login(page, PASSWORD)
            await page.wait_for_text("Order ticket")
            screen = await page.wait_for_text("PAPER")  # the engine is ready: the status bar names the venue's mode
            assert "BTC/USDT" in screen
            await page.wait_for_text("spread")

            await page.focus_terminal()
            await page.type("p")
            await page.wait_until("!window.__screen().includes('limit price')", "the price filling in")
            await page.type("o")
            await page.wait_until("!window.__screen().includes('b Buy')", "the size field taking focus")
            await page.type("0.01")
            await page.wait_until("!window.__screen().includes('Notional -')", "the preview showing the notional")
            await page.type("Enter")
            # Counted as placed whether it rests ("My orders (1)") or the simulated market has already filled it.
            await page.wait_for_text("orders today 1/20")
            shot = await page.screenshot(artifacts(tmp_path) / "web_trade_screen.png")
            assert shot.stat().st_size > 10_000
        assert web.stop() == 0
        assert "login refused from 127.0.0.1" in "".join(web.lines)
        assert await recorded_orders(isolated_home) == [("buy", "limit", Decimal("0.01"), "BTC/USDT", "paper")]
