"""The app in a browser: `opentrade web` on 127.0.0.1, Debian's headless Chromium over the
DevTools protocol (tests/web/chromium.py), the paper venue.

``first_frame_s``: from the page's request (the browser's navigation start) to the first text
xterm.js draws, which includes starting the session's app process: what a person opening the
page waits for. Each round opens a new session once the previous one's process has ended.
``key_to_screen_ms``: a key pressed in the page (its keydown) to the first frame drawn that shows
its effect ("2": the Positions screen, "1": the Trade screen back); the first switch to the
Positions screen, which builds it, is ``key_to_screen_first_ms``, apart.
``session_rss_mb``: the resident memory of one session's processes; ``server_rss_mb`` that of
`opentrade web` itself with the session open.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.web.chromium import CHROMIUM, Page, chromium  # noqa: E402
from tests.web.conftest import WebProcess, engine_for_the_sessions, opentrade_web  # noqa: E402

SCREENS = [("2", "Positions & Orders"), ("1", "Order ticket")]


def emit(metric: str, value: float, unit: str, target: float | None) -> None:
    print(json.dumps({"bench": "web", "metric": metric, "value": round(value, 3), "unit": unit, "target": target}), flush=True)


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found + [grandchild for child in found for grandchild in children(child)]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def no_session(web: WebProcess) -> None:
    """The previous session's app has ended (it holds the home's engine lock until then)."""
    deadline = time.monotonic() + 60
    while children(web.process.pid):
        if time.monotonic() > deadline:
            raise SystemExit("a session's app did not end within 60 s of its page closing")
        await asyncio.sleep(0.05)


async def first_frame(page: Page, web: WebProcess) -> float:
    await page.call("Page.navigate", url="about:blank")  # closes the previous session
    await no_session(web)
    await page.call("Page.navigate", url=web.url)
    started = await page.wait_until("window.__firstText", "the first frame")
    await page.wait_for_text("Order ticket")
    return float(started) / 1000


async def key_to_screen(page: Page, key: str, shows: str) -> float:
    await page.evaluate(f"window.__want = {json.dumps(shows)}; window.__seenAt = undefined; 1")
    await page.type(key)
    await page.wait_until("window.__seenAt !== undefined", f"{shows!r} after {key!r}")
    return float(await page.evaluate("window.__seenAt - window.__keyAt"))


async def run(rounds: int, keys: int) -> None:
    print(json.dumps({"bench": "web", "load_before": load()}), flush=True)
    with tempfile.TemporaryDirectory(prefix="opentrade-bench-web-") as home, engine_for_the_sessions(Path(home)), \
            opentrade_web(Path(home)) as web:
        async with chromium() as page:
            frames = [await first_frame(page, web) for _ in range(rounds)]
            await page.wait_for_text("spread")
            await page.focus_terminal()
            first_switch = await key_to_screen(page, *SCREENS[0])  # builds the Positions screen: once per session
            latencies = [await key_to_screen(page, *SCREENS[(i + 1) % 2]) for i in range(keys)]
            session = sum(rss_mb(pid) for pid in children(web.process.pid))
            server = rss_mb(web.process.pid)
        latencies.sort()
        emit("first_frame_s", statistics.median(frames), "s", 2.0)
        emit("first_frame_best_s", min(frames), "s", None)
        emit("key_to_screen_first_ms", first_switch, "ms", None)
        emit("key_to_screen_p50_ms", statistics.median(latencies), "ms", None)
        emit("key_to_screen_p95_ms", latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], "ms", 100.0)
        emit("session_rss_mb", session, "MB", None)
        emit("server_rss_mb", server, "MB", None)
    print(json.dumps({"bench": "web", "load_after": load(), "rounds": rounds, "keys": keys}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="under 30 seconds")
    args = parser.parse_args()
    if CHROMIUM is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    os.environ.pop("OPENTRADE_WEB_PASSWORD", None)
    asyncio.run(run(rounds=2 if args.quick else 5, keys=8 if args.quick else 40))


if __name__ == "__main__":
    main()
