"""A strip cut or cropped whole returns itself without caching itself (``tui.strip_cycles``), so a
dropped strip is freed at once; every other cut and crop is Textual's own. The first test fails
if the Textual internals that module relies on change, or if Textual stops making the cycle."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from tui.strip_cycles import _textual_crop_extend, _textual_divide, install


def line() -> Strip:
    return Strip([Segment("price ", Style(bold=True)), Segment("60,000.00", Style(color="green"))])


def cached(strip: Strip) -> list[Strip]:
    divided = [piece for pieces in strip._divide_cache._cache.values() for piece in pieces]  # noqa: SLF001
    return [*divided, *strip._crop_extend_cache._cache.values()]  # noqa: SLF001


def test_textual_still_caches_a_whole_strip_in_itself() -> None:
    strip = line()
    length = strip.cell_length
    assert _textual_divide(strip, [length]) == [strip]
    assert _textual_crop_extend(strip, 0, length, None) is strip
    assert sum(piece is strip for piece in cached(strip)) == 2, "Textual no longer caches the strip in itself"


def test_a_whole_strip_is_not_cached_in_itself() -> None:
    install()
    strip = line()
    length = strip.cell_length
    assert strip.divide([length]) == [strip]
    assert strip.divide([length, length + 5]) == [strip]
    assert strip.crop_extend(0, length, None) is strip
    assert not any(piece is strip for piece in cached(strip))


def test_other_cuts_and_crops_are_textuals() -> None:
    install()
    strip, same = line(), line()
    assert [piece.text for piece in strip.divide([6, 15])] == [piece.text for piece in _textual_divide(same, [6, 15])]
    assert strip.crop_extend(2, 20, None).text == _textual_crop_extend(same, 2, 20, None).text == "ice 60,000.00     "
    assert strip.crop_extend(0, 6, None).text == "price "
