"""Widgets that build their own strips: the pieces carry the styles Rich text would, a redraw
keeps the strips of lines that only moved, and a change of theme repaints every line."""

from __future__ import annotations

from decimal import Decimal

from rich.style import Style
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip

from core.models import Side, Trade
from themes.registry import builtin_themes, theme_names, up_down
from tui.widgets.strips import styled
from tui.widgets.trades_tape import TradesTape


def test_overlapping_spans_combine_and_the_later_one_wins() -> None:
    line = styled("abcdef", [(0, 4, "bold red"), (2, 9, "green"), (5, 6, "reverse")])
    assert line == [
        ("ab", Style.parse("bold red")),
        ("cd", Style.parse("bold red") + Style.parse("green")),
        ("e", Style.parse("green")),
        ("f", Style.parse("green") + Style.parse("reverse")),
    ]
    assert styled("abc", []) == [("abc", None)]


def trade(n: int, side: Side = Side.BUY) -> Trade:
    return Trade(venue="paper", symbol="BTC/USDT", ts=1_700_000_000_000 + n * 1000, price=Decimal(100 + n),
                 size=Decimal("0.5"), side=side, trade_id=str(n))


class TapeApp(App[None]):
    def compose(self) -> ComposeResult:
        yield TradesTape(id="tape")

    def on_mount(self) -> None:
        for theme in builtin_themes():
            self.register_theme(theme)
        self.theme = theme_names()[0]


def text_of(strip: Strip) -> str:
    return "".join(segment.text for segment in strip)


def screen_lines(tape: TradesTape) -> list[str]:
    width, height = tape.size
    return [text_of(strip).rstrip() for strip in tape.render_lines(Region(0, 0, width, height))]


async def test_a_moved_line_keeps_its_strip_and_the_new_trade_is_on_top() -> None:
    app = TapeApp()
    async with app.run_test(size=(40, 8)) as pilot:
        tape = app.query_one(TradesTape)
        tape.show([trade(1), trade(2, Side.SELL)], None)
        await pilot.pause()
        assert "102.00" in screen_lines(tape)[1] and "101.00" in screen_lines(tape)[2]
        newest_before = tape.render_line(1)

        tape.show([trade(1), trade(2, Side.SELL), trade(3)], None)
        await pilot.pause()
        lines = screen_lines(tape)
        assert "103.00" in lines[1] and "102.00" in lines[2] and "101.00" in lines[3]
        assert tape.render_line(2) is newest_before


async def test_a_trade_on_the_tape_is_written_once() -> None:
    """The tape scrolls by the trades printed since the last frame; the others keep the line
    they had (formatting every trade's time, price and size again was a sixth of a frame)."""
    app = TapeApp()
    async with app.run_test(size=(40, 8)) as pilot:
        tape = app.query_one(TradesTape)
        printed = [trade(1), trade(2)]
        tape.show(printed, None)
        await pilot.pause()
        before = tape.draw()
        tape.show([*printed, trade(3)], None)
        await pilot.pause()
        after = tape.draw()
        assert "103.00" in after[1][1][0] and after[2] is before[1] and after[3] is before[2]


async def test_a_change_of_theme_recolours_every_line() -> None:
    app = TapeApp()
    async with app.run_test(size=(40, 8)) as pilot:
        tape = app.query_one(TradesTape)
        tape.show([trade(1)], None)
        await pilot.pause()

        def price_colour() -> str:
            price = next(segment for segment in tape.render_line(1) if "101.00" in segment.text)
            assert price.style is not None and price.style.color is not None
            return price.style.color.triplet.hex if price.style.color.triplet else price.style.color.name

        first = price_colour()
        other = next(name for name in theme_names()[1:]
                     if up_down(app.get_theme(name))[0] != up_down(app.current_theme)[0])
        app.theme = other
        await pilot.pause()
        assert price_colour() != first

