"""A bare Textual app's first frame, the peer of ``opentrade trade``'s start-up in
``bench_tui.py``: the least any Textual program pays (Python, Textual's import, the driver, the
first composite) before showing the words the benchmark waits for. It imports nothing from this
project; ctrl+q quits, as in the app.

Run: ``python benchmarks/peer_textual_app.py``.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Static


class BareApp(App[None]):
    BINDINGS = [("ctrl+q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Static("engine starting  bid 42000.00  ask 42000.01  spread 0.01")


if __name__ == "__main__":
    BareApp().run()
