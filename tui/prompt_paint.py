"""A key's effect painted as soon as its handlers are done, not on Textual's next frame tick.

Textual paints a screen on a 60 Hz timer: a widget that changes marks itself dirty, and once the
screen is idle it resumes its paused update timer, whose next tick lands on the timer's fixed
schedule, 0 to 17 ms later. For a key that wait is most of what the trader sees of its latency
on a quiet loop, and it grows under a busy one, where the tick waits its turn behind the market's
messages. Once the key queue (``tui.keys``) has seen a key's handlers through, ``paint_now`` does
what that tick would do, at once.

This is the one place that reaches into Textual's internals for it: the screen's dirty state
(``_layout_required``, ``_scroll_required``, ``_repaint_required``, ``_recompose_required``,
``_dirty_widgets``), its update timer's callback ``_on_timer_update`` (which pauses the timer,
lays out what needs it and sends the changed regions to the terminal) and the app's
``_batch_count``. tests/tui/test_prompt_paint.py fails if Textual renames or reshapes them.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen


def needs_paint(screen: Screen[Any]) -> bool:
    """The screen has changes that its next frame tick would paint."""
    return bool(screen._layout_required or screen._scroll_required or screen._repaint_required  # noqa: SLF001
                or screen._recompose_required or screen._dirty_widgets)  # noqa: SLF001


def paint_now(screen: Screen[Any]) -> bool:
    """Paint ``screen``'s pending changes now, as its update timer's tick would; nothing when it
    is not on display, a batch update holds paints back, or nothing changed. True if painted."""
    if not screen.is_current or screen.app._batch_count or not needs_paint(screen):  # noqa: SLF001
        return False
    screen._on_timer_update()  # noqa: SLF001
    return True
