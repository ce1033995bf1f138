"""Themes as data: ``builtin.yaml`` becomes Textual ``Theme`` objects.

Rising/falling colours are theme variables (``up``/``down``) so a colour-blind-safe theme only
changes data, and widgets that draw with Rich read them through ``up_down``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from textual.theme import Theme

HERE = Path(__file__).parent
STYLESHEET = HERE / "opentrade.tcss"
DEFAULT_THEME = "opentrade-dark"
# libyaml's loader, which PyYAML's wheels include: 0.5 ms for builtin.yaml instead of 2.7 ms, before the first frame
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_COLOUR_KEYS = ("primary", "secondary", "accent", "foreground", "background", "surface", "panel",
                "warning", "error", "success")


@cache
def builtin_themes() -> tuple[Theme, ...]:
    data = yaml.load((HERE / "builtin.yaml").read_text(encoding="utf-8"), Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
    themes = []
    for name, spec in data.items():
        colours = {key: spec[key] for key in _COLOUR_KEYS if key in spec}
        themes.append(
            Theme(
                name=name,
                dark=bool(spec.get("dark", True)),
                variables={"up": spec["up"], "down": spec["down"]},
                **colours,
            )
        )
    return tuple(themes)


def theme_names() -> list[str]:
    return [theme.name for theme in builtin_themes()]


def next_theme(current: str) -> str:
    """The theme after ``current`` in the cycle (the first one when ``current`` is unknown)."""
    names = theme_names()
    if current not in names:
        return names[0]
    return names[(names.index(current) + 1) % len(names)]


def up_down(theme: Theme | None) -> tuple[str, str]:
    """Colours for up and down moves; plain green/red for a theme that defines neither."""
    if theme is None:
        return "green", "red"
    variables = theme.variables
    return (variables.get("up") or theme.success or "green", variables.get("down") or theme.error or "red")
