"""The order book ladder: asks above, bids below, spread in between, cumulative depth bars,
price grouping, the trader's own resting orders marked at their levels, and the position's
stop-loss (S) and take-profit (T) at theirs, or named on the spread line when off the ladder.

It renders from the latest book when the screen's clock says so, never per update.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from core.models import ZERO, Instrument, Order, OrderBook, ProtectiveLevels, Side
from themes.registry import up_down
from tui.format import compact_size
from tui.widgets.strips import Line, StripWidget, style, styled

GROUPINGS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)
ONE = Decimal(1)


def group_levels(levels: list[tuple[Decimal, Decimal]], step: Decimal, side: Side) -> list[tuple[Decimal, Decimal]]:
    """Merge levels into buckets of ``step``; bids round down and asks up, so a bucket never
    shows a better price than any level in it."""
    if step <= 0:
        return list(levels)
    rounding = ROUND_FLOOR if side is Side.BUY else ROUND_CEILING
    buckets = [((price / step).quantize(ONE, rounding=rounding) * step, size) for price, size in levels]
    # A book's levels come best first, so their buckets do too and a bucket's levels are
    # neighbours: merged in one pass, without hashing and sorting Decimals every frame.
    merged: list[tuple[Decimal, Decimal]] = []
    better = operator.gt if side is Side.BUY else operator.lt
    for bucket, size in buckets:
        if not merged:
            merged.append((bucket, size))
        elif bucket == merged[-1][0]:
            merged[-1] = (bucket, merged[-1][1] + size)
        elif better(merged[-1][0], bucket):
            merged.append((bucket, size))
        else:
            return _merged_in_any_order(buckets, side)
    return merged


def _merged_in_any_order(buckets: list[tuple[Decimal, Decimal]], side: Side) -> list[tuple[Decimal, Decimal]]:
    merged: dict[Decimal, Decimal] = defaultdict(Decimal)
    for bucket, size in buckets:
        merged[bucket] += size
    return sorted(merged.items(), reverse=side is Side.BUY)


def with_own_levels(levels: list[tuple[Decimal, Decimal]], own: dict[tuple[Side, Decimal], Decimal],
                    side: Side) -> list[tuple[Decimal, Decimal]]:
    """Add a row for each own resting order (or protective level, size 0) at a price the
    venue's (depth-limited) book does not list, so each inside the shown range is visible."""
    prices = {price for price, _ in levels}
    extra = [(price, size) for (own_side, price), size in own.items() if own_side is side and price not in prices]
    return sorted([*levels, *extra], reverse=side is Side.BUY)


def _bucket(price: Decimal, step: Decimal, side: Side) -> Decimal:
    rounding = ROUND_FLOOR if side is Side.BUY else ROUND_CEILING
    return (price / step).quantize(Decimal(1), rounding=rounding) * step


def _fit(line: Line, width: int) -> Line:
    """The pieces cut to ``width`` cells, padded to it."""
    fitted: Line = []
    room = width
    for text, piece_style in line:
        if room <= 0:
            break
        fitted.append((text[:room], piece_style))
        room -= len(text[:room])
    if room > 0:
        fitted.append((" " * room, None))
    return fitted


class OrderBookLadder(StripWidget):
    DEFAULT_CSS = """
    OrderBookLadder { height: 1fr; min-width: 26; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.book: OrderBook | None = None
        self.instrument: Instrument | None = None
        self.own_orders: list[Order] = []
        self.levels: ProtectiveLevels | None = None
        self.grouping_index = 0

    @property
    def step(self) -> Decimal:
        tick = self.instrument.tick_size if self.instrument else Decimal(1)
        return tick * GROUPINGS[self.grouping_index]

    def show(self, book: OrderBook | None, instrument: Instrument | None, own_orders: list[Order],
             levels: ProtectiveLevels | None = None) -> None:
        self.book, self.instrument, self.own_orders, self.levels = book, instrument, own_orders, levels
        self.redraw()

    def change_grouping(self, delta: int) -> None:
        self.grouping_index = max(0, min(len(GROUPINGS) - 1, self.grouping_index + delta))
        self.redraw()

    def _own_levels(self, step: Decimal) -> dict[tuple[Side, Decimal], Decimal]:
        levels: dict[tuple[Side, Decimal], Decimal] = defaultdict(Decimal)
        for order in self.own_orders:
            if order.price is not None and order.is_open:
                levels[(order.side, _bucket(order.price, step, order.side))] += order.remaining
        return levels

    def _level_marks(self, step: Decimal, mid: Decimal | None) -> dict[tuple[Side, Decimal], tuple[str, Decimal]]:
        """The bucket of each protective level: (side of the ladder, price) -> (tag, level)."""
        marks: dict[tuple[Side, Decimal], tuple[str, Decimal]] = {}
        if self.levels is None or mid is None:
            return marks
        for tag, price in (("S", self.levels.stop_loss), ("T", self.levels.take_profit)):
            if price is not None:
                side = Side.BUY if price < mid else Side.SELL
                marks[(side, _bucket(price, step, side))] = (tag, price)
        return marks

    def draw(self) -> list[Line]:
        width = max(self.size.width, 20)
        height = max(self.size.height, 3)
        book, instrument = self.book, self.instrument
        up, down = up_down(self.app.current_theme)
        header: Line = [(f"{'Price':>{width // 2 - 1}} {'Size':>{width - width // 2 - 3}}  ", style("bold"))]
        if book is None or instrument is None:
            return [header, [("waiting for the book…", style("dim"))]]
        step = self.step
        decimals = max(0, -step.normalize().as_tuple().exponent)  # type: ignore[operator]
        per_side = max(1, (height - 2) // 2)
        own = self._own_levels(step)
        marks = self._level_marks(step, book.mid)
        rows = {**dict.fromkeys(marks, ZERO), **own}
        asks = with_own_levels(group_levels(book.asks, step, Side.SELL), rows, Side.SELL)[:per_side]
        bids = with_own_levels(group_levels(book.bids, step, Side.BUY), rows, Side.BUY)[:per_side]
        tag_colours = {"S": down, "T": up}  # a loss and a profit, whichever the side
        max_total = max(sum(s for _, s in asks) if asks else Decimal(0), sum(s for _, s in bids) if bids else Decimal(0)) or Decimal(1)

        lines: list[Line] = [header]
        ask_rows = []
        total = Decimal(0)
        for price, size in asks:
            total += size
            ask_rows.append(self._row(price, size, total, max_total, decimals, width, down, own.get((Side.SELL, price)),
                                      self._tag(marks, Side.SELL, price, tag_colours)))
        lines.extend(reversed(ask_rows))
        lines.extend([] for _ in range(per_side - len(ask_rows)))
        lines.append(self._spread_line(book, instrument, marks, asks, bids, tag_colours, width))
        total = Decimal(0)
        for price, size in bids:
            total += size
            lines.append(self._row(price, size, total, max_total, decimals, width, up, own.get((Side.BUY, price)),
                                   self._tag(marks, Side.BUY, price, tag_colours)))
        return lines[:height]

    def _spread_line(
        self, book: OrderBook, instrument: Instrument, marks: dict[tuple[Side, Decimal], tuple[str, Decimal]],
        asks: list[tuple[Decimal, Decimal]], bids: list[tuple[Decimal, Decimal]], colours: dict[str, str], width: int,
    ) -> Line:
        """The spread, and the protective levels beyond the rows shown (which need the room
        more than the spread's percentage)."""
        spread, mid, decimals = book.spread, book.mid, instrument.price_decimals
        shown = {(Side.SELL, p) for p, _ in asks} | {(Side.BUY, p) for p, _ in bids}
        off = [(f" {tag}{'↓' if side is Side.BUY else '↑'}{price:,.{decimals}f}", colours[tag])
               for (side, bucket), (tag, price) in marks.items() if (side, bucket) not in shown]
        text = "spread -" if spread is None or mid is None else f"spread {spread:.{decimals}f}"
        if spread is not None and mid is not None and not off:
            text += f" ({spread / mid:.3%})"
        text += f" ×{GROUPINGS[self.grouping_index]}" if self.grouping_index else ""
        if not off:
            return [(text.center(width)[:width], style("bold"))]
        return _fit([(text, style("bold")), *((level, style(f"bold {colour}")) for level, colour in off)], width)

    @staticmethod
    def _tag(marks: dict[tuple[Side, Decimal], tuple[str, Decimal]], side: Side, price: Decimal,
             colours: dict[str, str]) -> tuple[str, str] | None:
        mark = marks.get((side, price))
        return None if mark is None else (mark[0], colours[mark[0]])

    @staticmethod
    def _row(price: Decimal, size: Decimal, total: Decimal, max_total: Decimal, decimals: int,
             width: int, colour: str, own: Decimal | None, tag: tuple[str, str] | None = None) -> Line:
        """A ladder line; the last cell marks an own order (◆) or a protective level (S / T)."""
        marker = "◆" if own else tag[0] if tag else " "
        price_text = f"{price:,.{decimals}f}"
        size_text = compact_size(size) if size else ""
        left = width // 2 - 1
        body = f"{price_text:>{left}} {size_text:>{width - left - 3}} {marker}"
        spans: list[tuple[int, int, str]] = [(0, left, f"bold {colour}")]
        if own:
            spans.append((len(body) - 1, len(body), "bold reverse"))
        elif tag:
            spans.append((len(body) - 1, len(body), f"bold reverse {tag[1]}"))
        bar = int(round(float(total / max_total) * width))
        if bar:
            spans.append((width - bar, width, f"dim on {colour}"))
        return styled(body[:width], spans)
