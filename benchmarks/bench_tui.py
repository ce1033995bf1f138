"""The terminal's responsiveness.

startup_s: the installed ``opentrade`` command in a 120x40 pseudo-terminal, from spawning the
process to its first frame: the whole Trade screen in its starting state (the status bar's
"engine starting", which a partial paint of the screen does not have), on the paper venue;
ready_s: on to the first frame with the live order book (the word "spread" in the ladder), once
the engine has opened the storage, connected the venue and reconciled. Beside them the peer, a
bare Textual app (``peer_textual_app.py``) showing both words in its first frame, started the
same way in alternating runs (the best of each after the first, which makes the home and caches
the bytecode; ``--startup-only`` stops there). Each figure comes with the CPU seconds the
process had used when the frame arrived (``cpu_s``, from ``/proc``): on a machine shared by busy
processes the wall clock mostly measures the neighbours.

Under load (in-process, headless driver at 120x40): the paper simulator on 5 markets runs at
20x speed with a 0.2 s step, which publishes >= 500 order-book updates and >= 200 trades per
second (the achieved rates are reported), while a key is pressed every 100 ms: trading keys on
the Trade screen (side, which moves to the size field, and Escape out of it; chart timeframe and
style, book grouping), and every tenth press a screen switch, reported apart (a switch repaints
the whole screen). The venue's own
loop steps at most 20 times a second, so the benchmark also calls its public ``step`` at
100 Hz. Key-to-screen latency is the time from posting the key event to the first composited
frame that shows its effect (the ticket's side, the chart, the ladder, the new screen); loop lag
is how late a 10 ms timer fires; CPU is process time over wall time; memory growth is the
resident set at the end minus after a warm-up of 10 s (5 s with --quick) that fills the
bounded caches (trades, candles). On a shared machine the key and lag figures also come
without the time the loop's thread waited for a core (``_excl_wait``, from the kernel's
run-queue delay of that thread over the same interval): what this process made of them.
``paints`` counts the frames sent to the terminal (the render clock's, and one per key or
change painted on its own), ``gc_full_passes`` the garbage collector's full passes during the
measurement and ``gc_full_pass_max_ms`` the longest of them (each holds the loop).
``--load-only`` skips the start-up runs.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import gc
import json
import os
import pty
import resource
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import load_average, queue_wait_s, step_on_schedule
from core.config import AppConfig, PaperMarketConfig, PaperVenueConfig
from core.events import OrderBookUpdated, TradePrinted

MARKETS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BTC/USDT:USDT", "ETH/USDT:USDT"]
STEP_HZ = 100
KEY_CHARACTERS: dict[str, str | None] = {"right_square_bracket": "]", "left_square_bracket": "[", "plus": "+", "minus": "-",
                                         "escape": None}
FIRST_FRAME_MARKER = b"engine starting"
READY_MARKER = b"spread"


def emit(metric: str, value: float, unit: str, target: float | None, **extra: Any) -> None:
    print(json.dumps({"bench": "tui", "metric": metric, "value": round(value, 3), "unit": unit, "target": target,
                      **extra}), flush=True)


def percentile(values: list[float], share: float) -> float:
    """NaN for no values: a starved run may press no screen-switch key in 10 s."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def opentrade_command() -> str:
    installed = Path(sys.executable).parent / "opentrade"
    return str(installed) if installed.exists() else "opentrade"


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a running process, all its threads (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def startup_seconds(command: list[str]) -> list[tuple[float, float]]:
    """Spawn ``command`` on a pty and read its output until the first frame and then the ready
    frame have shown: for each, the wall-clock seconds and the CPU seconds the process had used
    by then (NaN for one that did not show within 30 s)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    # As installed, the modules' bytecode is cached (pip compiles it; an editable install writes it on
    # the first run, which makes the home here): a PYTHONDONTWRITEBYTECODE in the caller's
    # environment would have every run compile the project's ~140 modules afresh (0.1 s).
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "PYTHONDONTWRITEBYTECODE")}
    env["TERM"] = "xterm-256color"
    started = time.perf_counter()
    process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
                               start_new_session=True)
    os.close(slave)
    seen = b""
    markers = [FIRST_FRAME_MARKER, READY_MARKER]
    found: list[tuple[float, float]] = []
    try:
        deadline = started + 30
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            seen = seen[-64:] + chunk
            while len(found) < len(markers) and markers[len(found)] in seen:
                found.append((time.perf_counter() - started, cpu_seconds(process.pid)))
            if len(found) == len(markers):
                break
    finally:
        os.write(master, b"\x11")  # ctrl+q
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        os.close(master)
    return found + [(float("nan"), float("nan"))] * (len(markers) - len(found))


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def load_config() -> AppConfig:
    venue = PaperVenueConfig(markets=[PaperMarketConfig(symbol=s) for s in MARKETS], speed=20, tick_interval=0.2,
                             balances={"USDT": Decimal(100000)})
    return AppConfig(venues={"paper": venue}, strategies={})


async def under_load(duration: float, warm_up: float, home: Path) -> None:
    from textual import events
    from textual.widgets import Input

    from exchanges.paper.venue import PaperVenue
    from runtime.session import LocalSession
    from runtime.wiring import build_engine
    from tui.app import OpenTradeApp
    from tui.widgets.order_book import OrderBookLadder
    from tui.widgets.order_ticket import OrderTicket
    from tui.widgets.price_chart import PriceChart

    config = load_config()
    counts = {"books": 0, "trades": 0, "paints": 0}

    async def factory() -> Any:
        engine = await build_engine(config, home)

        def count(event: Any) -> None:
            counts["books" if isinstance(event, OrderBookUpdated) else "trades"] += 1

        engine.bus.add_listener((OrderBookUpdated, TradePrinted), count)
        return engine

    app = OpenTradeApp(LocalSession(factory), freeze_gc=True)
    lags: list[float] = []
    lags_excl_wait: list[float] = []
    key_ms: list[float] = []
    key_excl_wait_ms: list[float] = []
    pending: dict[str, Any] = {}

    def on_trade(check: Callable[[Any], bool]) -> Callable[[], bool]:
        return lambda: app.current_mode == "trade" and app.screen.is_current and check(app.screen)

    def mode_is(mode: str) -> Callable[[], bool]:
        return lambda: app.current_mode == mode and app.screen.is_current

    # b and s also move the focus to the size field: Escape leaves it before the next key.
    trading_keys: list[tuple[str, Callable[[], bool]]] = [
        ("s", on_trade(lambda s: s.query_one(OrderTicket).side.value == "sell" and s.focused is not None)),
        ("escape", on_trade(lambda s: s.focused is None)),
        ("right_square_bracket", on_trade(lambda s: s.query_one(PriceChart).timeframe == "5m")),
        ("plus", on_trade(lambda s: s.query_one(OrderBookLadder).grouping_index == 1)),
        ("v", on_trade(lambda s: s.query_one(PriceChart).line_mode)),
        ("b", on_trade(lambda s: s.query_one(OrderTicket).side.value == "buy" and s.focused is not None)),
        ("escape", on_trade(lambda s: s.focused is None)),
        ("left_square_bracket", on_trade(lambda s: s.query_one(PriceChart).timeframe == "1m")),
        ("minus", on_trade(lambda s: s.query_one(OrderBookLadder).grouping_index == 0)),
        ("v", on_trade(lambda s: not s.query_one(PriceChart).line_mode)),
    ]
    switch_keys: list[tuple[str, Callable[[], bool]]] = [("2", mode_is("positions")), ("1", mode_is("trade"))]
    switch_ms: list[float] = []
    full_passes: list[float] = []  # how long each full collection held the loop, ms
    full_pass_began = [0.0]

    def time_full_passes(phase: str, info: dict[str, int]) -> None:
        if info["generation"] == 2:
            if phase == "start":
                full_pass_began[0] = time.perf_counter()
            else:
                full_passes.append((time.perf_counter() - full_pass_began[0]) * 1000)
    original_display = app._display

    def recording_display(screen: Any, renderable: Any) -> None:
        original_display(screen, renderable)
        if renderable is not None:
            counts["paints"] += 1
        if renderable is not None and "done" in pending and pending["at"] is None and pending["done"]():
            pending["at"] = time.perf_counter()
            pending["waited"] = queue_wait_s() - pending["wait_before"]

    app._display = recording_display  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(3000):
            if app.is_ready:
                break
            await pilot.pause(0.01)
        ccxt_loaded = any(name == "ccxt" or name.startswith("ccxt.") for name in sys.modules)
        venue = app.engine.venues["paper"]
        assert isinstance(venue, PaperVenue)
        stop = asyncio.Event()

        driver = asyncio.create_task(step_on_schedule(venue, stop, STEP_HZ, 0.2))
        # Not pilot.pause: it first waits for the screen's queue to empty, which under this
        # stream of updates on a busy machine it may not do within Textual's 30 s limit.
        await asyncio.sleep(warm_up)

        async def lag_probe() -> None:
            loop = asyncio.get_running_loop()
            while not stop.is_set():
                before, waited = loop.time(), queue_wait_s()
                await asyncio.sleep(0.01)
                lag = loop.time() - before - 0.01
                lags.append(lag * 1000)
                lags_excl_wait.append(max(0.0, lag - (queue_wait_s() - waited)) * 1000)

        probe = asyncio.create_task(lag_probe())
        mem_start = rss_mb()
        cpu_start = resource.getrusage(resource.RUSAGE_SELF)
        counts["books"] = counts["trades"] = counts["paints"] = 0
        gc.callbacks.append(time_full_passes)
        wall_start = time.perf_counter()
        index = trading = 0
        while time.perf_counter() - wall_start < duration:
            switching = index % 20 >= 18 and not isinstance(app.focused, Input)  # not in the size field b/s moved to
            if switching:
                key, done = switch_keys[index % 2]
            else:
                key, done = trading_keys[trading % len(trading_keys)]
                trading += 1
            index += 1
            pending.update(done=done, at=None, wait_before=queue_wait_s())
            began = time.perf_counter()
            app.post_message(events.Key(key, KEY_CHARACTERS.get(key, key)))
            for _ in range(5000):
                if pending["at"] is not None:
                    break
                await asyncio.sleep(0.001)
            if pending["at"] is not None:
                (switch_ms if switching else key_ms).append((pending["at"] - began) * 1000)
                if not switching:
                    key_excl_wait_ms.append((pending["at"] - began - pending["waited"]) * 1000)
            await asyncio.sleep(0.1)
        wall = time.perf_counter() - wall_start
        cpu_end = resource.getrusage(resource.RUSAGE_SELF)
        gc.callbacks.remove(time_full_passes)
        paints = counts["paints"]
        stop.set()
        await probe
        await driver
        mem_end = rss_mb()
        frames = app.frames
    cpu = (cpu_end.ru_utime - cpu_start.ru_utime + cpu_end.ru_stime - cpu_start.ru_stime) / wall * 100
    emit("book_updates_per_s", counts["books"] / wall, "1/s", 500)
    emit("trades_per_s", counts["trades"] / wall, "1/s", 200)
    emit("keys_pressed", index, "keys", None)
    emit("keys_seen_on_screen", len(key_ms) + len(switch_ms), "keys", index)
    emit("key_p50_ms", percentile(key_ms, 0.50), "ms", None)
    emit("key_p95_ms", percentile(key_ms, 0.95), "ms", 20)
    emit("key_p99_ms", percentile(key_ms, 0.99), "ms", None)
    emit("key_p50_ms_excl_wait", percentile(key_excl_wait_ms, 0.50), "ms", None)
    emit("key_p95_ms_excl_wait", percentile(key_excl_wait_ms, 0.95), "ms", 20)
    emit("screen_switch_p50_ms", percentile(switch_ms, 0.50), "ms", None)
    emit("screen_switch_p95_ms", percentile(switch_ms, 0.95), "ms", None)
    emit("loop_lag_p99_ms", percentile(lags, 0.99), "ms", 10)
    emit("loop_lag_p99_ms_excl_wait", percentile(lags_excl_wait, 0.99), "ms", 10)
    emit("cpu_pct", cpu, "%", 25, load=load_average())
    emit("mem_growth_mb", mem_end - mem_start, "MB", 20)
    emit("frames_drawn", frames, "frames", None)
    emit("paints", paints, "paints", None)
    emit("gc_full_passes", len(full_passes), "passes", None)
    emit("gc_full_pass_max_ms", max(full_passes, default=0.0), "ms", None)
    emit("ccxt_imported", float(ccxt_loaded), "bool", 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 s of load instead of 60 s, shorter warm-up")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--startup-only", action="store_true", help="measure the start-up alone, not the run under load")
    group.add_argument("--load-only", action="store_true", help="skip the start-up runs: only the figures under load")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.load_only:
            emit_startup(args.quick, Path(tmp) / "startup")
        if args.startup_only:
            return
        asyncio.run(under_load(10 if args.quick else 60, 5 if args.quick else 10, Path(tmp) / "load"))


def emit_startup(quick: bool, home: Path) -> None:
    peer_command = [sys.executable, str(Path(__file__).with_name("peer_textual_app.py"))]
    load_before = load_average()
    ours, peer = [], []
    for _ in range(2 if quick else 4):  # alternating; the first of ours makes its home
        ours.append(startup_seconds([opentrade_command(), "--home", str(home), "trade"]))
        peer.append(startup_seconds(peer_command))
    load = f"{load_before} -> {load_average()}"
    (peer_wall, peer_cpu), _ = min(peer[1:])  # the peer's one frame has both words
    for index, (metric, target) in enumerate((("startup_s", 0.5), ("ready_s", None))):
        wall, cpu = min(run[index] for run in ours[1:])
        emit(metric, wall, "s", target, peer_value=round(peer_wall, 3), ratio=round(wall / peer_wall, 2),
             cpu_s=round(cpu, 3), peer_cpu_s=round(peer_cpu, 3), first_run_s=round(ours[0][index][0], 3), load=load)

if __name__ == "__main__":
    main()
