"""Venues from the configuration: each venue's ``type`` names a venue plugin (``opentrade.venues``
entry points, core.plugins), built-in or installed, whose factory builds it from a ``VenueSpec``.

The built-in ``paper``, ``ccxt`` and perpetuals (``hyperliquid``, ``binanceusdm``) factories
are here, registered in pyproject.toml like any plugin's. ccxt is imported only when a ccxt venue is built (it costs most of a second).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.config import AppConfig, CcxtVenueConfig, PaperVenueConfig, PerpVenueConfig, PluginVenueConfig
from core.plugins import BrokenPlugin, PluginError, VenueSpec, factory_problem, registry
from core.ports import Clock, ExchangeAdapter
from core.secrets import load_credentials

VenueFactory = Callable[[VenueSpec], ExchangeAdapter]


def paper_venue(spec: VenueSpec) -> ExchangeAdapter:
    """The simulated market, its account kept in ``paper-<name>.sqlite`` in the home."""
    from exchanges.paper.venue import PaperVenue

    settings = spec.settings
    if not isinstance(settings, PaperVenueConfig):
        raise TypeError(f"venue '{spec.name}': the paper venue reads paper settings, not {type(settings).__name__}")
    if spec.seed is not None:
        settings = settings.model_copy(update={"seed": spec.seed})
    return PaperVenue(spec.name, settings, spec.clock, spec.home / f"paper-{spec.name}.sqlite", spec.history)


def ccxt_venue(spec: VenueSpec) -> ExchangeAdapter:
    """An exchange through ccxt, its credentials from the environment or the secrets file."""
    from exchanges.ccxt.venue import CcxtVenue

    if not isinstance(spec.settings, CcxtVenueConfig):
        raise TypeError(f"venue '{spec.name}': the ccxt venue reads ccxt settings, not {type(spec.settings).__name__}")
    credentials = load_credentials(spec.name, spec.config.secrets_file)
    return CcxtVenue(spec.name, spec.settings, spec.clock, spec.home / "cache", credentials)


def perpetual_venue(spec: VenueSpec) -> ExchangeAdapter:
    """A dedicated perpetuals venue (Hyperliquid, Binance USDⓈ-M): the ccxt venue plus
    funding, open interest, mark prices, amends and account modes (exchanges/perps)."""
    from exchanges.perps.binanceusdm import BinanceUsdmVenue
    from exchanges.perps.hyperliquid import HyperliquidVenue

    settings = spec.settings
    if not isinstance(settings, PerpVenueConfig):
        raise TypeError(f"venue '{spec.name}': a perpetuals venue reads its own settings, not {type(settings).__name__}")
    venue_class = {"hyperliquid": HyperliquidVenue, "binanceusdm": BinanceUsdmVenue}[settings.type]
    credentials = load_credentials(spec.name, spec.config.secrets_file)
    return venue_class(spec.name, settings, spec.clock, spec.home / "cache", credentials)


def venue_factory(name: str, venue_type: str) -> VenueFactory:
    """The factory of a configured venue's type; a ValueError saying why when the type is not
    installed, is disabled or is broken: a venue the configuration names cannot be left out."""
    try:
        factory: VenueFactory = registry().load("venue", venue_type, factory_problem)
    except BrokenPlugin as exc:
        raise PluginError(f"venue '{name}': {exc}; fix or uninstall the plugin, or remove the venue") from None
    except PluginError as exc:
        raise PluginError(f"venue '{name}': {exc}") from None
    return factory


def build_venue(
    name: str, settings: PaperVenueConfig | CcxtVenueConfig | PluginVenueConfig, config: AppConfig, home: Path,
    clock: Clock, seed: int | None = None,
) -> ExchangeAdapter:
    """The configured venue, built by its type's factory. A third party's factory that fails is
    named with its error (its settings may be wrong, or the plugin); the built-ins raise their
    own errors, which the commands already word."""
    spec = VenueSpec(name, settings, config, home, clock, seed, seeded_history(config, name))
    factory = venue_factory(name, settings.type)
    plugin = registry().get("venue", settings.type)
    if plugin is None or plugin.builtin:
        return factory(spec)
    try:
        return factory(spec)
    except Exception as exc:  # noqa: BLE001 - a third party's failure, reported as such
        raise PluginError(f"venue '{name}': the {plugin.describe()} could not build it: {type(exc).__name__}: {exc}") from None


def seeded_history(config: AppConfig, venue: str) -> dict[str, int]:
    """Candles per timeframe the analysis agents read from a venue when they analyse it, so a
    simulated venue can start with all the history their first analysis (at start) needs."""
    agents = config.agents
    if not agents.enabled or (agents.venue or config.default_venue) != venue:
        return {}
    return dict.fromkeys(agents.timeframes, agents.history)
