"""`opentrade update`: is there a newer release of OpenTrade, or of an installed plugin, on the
package index? It only checks and says how to upgrade; pip does the installing.

The index is the one pip uses by default (PyPI), ``$PIP_INDEX_URL``, or ``--index-url``, read
through the simple repository API: JSON (PEP 691) when the index offers it, else the HTML page
(PEP 503). Versions come from the file names; yanked files and pre-releases (unless ``--pre``,
or the installed version is one) are left out. An index that cannot be reached (no network, a
name that does not resolve, a refused connection, no answer in time) is said in one line, exit
code 1; a package the index does not know (a plugin installed from a directory) is said too.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sys
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from html.parser import HTMLParser
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urljoin, urlparse

from cli.main import CommandContext
from core.plugins import GROUPS, PROJECT, normalized, registry

PYPI = "https://pypi.org/simple/"
ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"


class IndexUnreachable(Exception):
    """The index did not answer: the network, its name, its port or its speed."""


class IndexProblem(Exception):
    """The index answered, but not with a page this command can read for the package."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("update", help="check the package index for newer releases of OpenTrade and its plugins")
    parser.add_argument("--index-url", help=f"simple repository URL (default: $PIP_INDEX_URL, else {PYPI})")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the index (default 10)")
    parser.add_argument("--pre", action="store_true", help="count pre-releases as newer releases")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=handle)


@dataclass
class Release:
    package: str
    installed: str
    latest: str | None = None
    status: str = "not checked"  # "up to date", "update available", "not on the index", "not checked"


def installed_packages() -> list[Release]:
    """OpenTrade, then every package that registers a plugin, with the installed versions."""
    try:
        releases = {normalized(PROJECT): Release(PROJECT, version(PROJECT))}
    except PackageNotFoundError:
        releases = {}
    for kind in GROUPS:
        for plugin in registry().found(kind):
            releases.setdefault(normalized(plugin.package), Release(plugin.package, plugin.version))
    return list(releases.values())


def index_url(given: str | None) -> str:
    url = given or os.environ.get("PIP_INDEX_URL") or PYPI
    if urlparse(url).scheme not in ("http", "https"):
        raise ValueError(f"--index-url {url}: expected the http:// or https:// URL of a simple repository")
    return url if url.endswith("/") else url + "/"


def fetch(url: str, timeout: float) -> tuple[str, str]:
    """The page's content type and text; LookupError for a 404 (the index does not know the package)."""
    request = urllib.request.Request(url, headers={"Accept": ACCEPT, "User-Agent": f"{PROJECT} update"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked in index_url
            return response.headers.get_content_type(), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise LookupError(url) from None
        raise IndexProblem(f"{url}: the index answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise IndexUnreachable(_why(exc.reason, timeout)) from None
    except (TimeoutError, OSError) as exc:
        raise IndexUnreachable(_why(exc, timeout)) from None


def _why(reason: Any, timeout: float) -> str:
    if isinstance(reason, socket.gaierror):
        return "its host name does not resolve (no network, or no DNS)"
    if isinstance(reason, ConnectionRefusedError):
        return "the connection was refused"
    if isinstance(reason, TimeoutError | socket.timeout):
        return f"no answer within {timeout:g} s"
    return str(getattr(reason, "strerror", None) or reason)


class _Links(HTMLParser):
    """The file names of a PEP 503 page: each anchor's text, and whether it is yanked."""

    def __init__(self) -> None:
        super().__init__()
        self.files: list[tuple[str, bool]] = []
        self._yanked: bool | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._yanked = any(name == "data-yanked" for name, _ in attrs)

    def handle_data(self, data: str) -> None:
        if self._yanked is not None and data.strip():
            self.files.append((data.strip(), self._yanked))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._yanked = None


def files_on_page(content_type: str, text: str, url: str) -> list[tuple[str, bool]]:
    """(file name, yanked) for every file of the package the index lists."""
    if content_type.endswith("json"):
        try:
            document = json.loads(text)
            return [(str(entry["filename"]), bool(entry.get("yanked"))) for entry in document["files"]]
        except (ValueError, KeyError, TypeError):
            raise IndexProblem(f"{url}: not a simple repository JSON page (PEP 691)") from None
    links = _Links()
    links.feed(text)
    return links.files


def file_version(filename: str, package: str) -> Any:
    """The release a wheel or sdist file name is of, None when it is not one of the package's."""
    from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename
    from packaging.version import InvalidVersion

    try:
        if filename.endswith(".whl"):
            name, found, *_ = parse_wheel_filename(filename)
        elif re.search(r"\.(tar\.gz|zip)$", filename):
            name, found = parse_sdist_filename(filename)
        else:
            return None
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return found if normalized(name) == normalized(package) else None


def check(release: Release, index: str, timeout: float, pre: bool) -> None:
    from packaging.version import InvalidVersion, Version

    page = urljoin(index, normalized(release.package) + "/")
    try:
        content_type, text = fetch(page, timeout)
    except LookupError:
        release.status = "not on the index"
        return
    try:
        installed = Version(release.installed)
    except InvalidVersion:
        installed = None
    wanted = pre or (installed is not None and installed.is_prerelease)
    versions = [v for name, yanked in files_on_page(content_type, text, page) if not yanked
                for v in [file_version(name, release.package)] if v is not None and (wanted or not v.is_prerelease)]
    if not versions:
        release.status = "not on the index"
        return
    latest = max(versions)
    release.latest = str(latest)
    release.status = "update available" if installed is None or latest > installed else "up to date"


def handle(args: argparse.Namespace, ctx: CommandContext) -> int:
    try:
        index = index_url(args.index_url)
    except ValueError as exc:
        print(f"update: {exc}", file=sys.stderr)
        return 2
    releases = installed_packages()
    problem = None
    try:
        for release in releases:
            check(release, index, args.timeout, args.pre)
    except IndexUnreachable as exc:
        problem = (f"cannot reach the package index {index}: {exc}; nothing was checked "
                   "(try again online, or give another index with --index-url or PIP_INDEX_URL)")
    except IndexProblem as exc:
        problem = f"the package index {index} could not be read: {exc}"
    if args.json:
        print(json.dumps({"index": index, "error": problem, "packages": [asdict(r) for r in releases]}, indent=2))
    else:
        _print(releases, index, problem)
    return 1 if problem else 0


def _print(releases: list[Release], index: str, problem: str | None) -> None:
    if problem:
        print(f"opentrade update: {problem}", file=sys.stderr)
        return
    width = max(len(r.package) for r in releases)
    print(f"{'package':<{width}}  {'installed':<10} {'latest':<10} status")
    for r in releases:
        note = f" (pip install --upgrade {r.package})" if r.status == "update available" else ""
        print(f"{r.package:<{width}}  {r.installed:<10} {r.latest or '-':<10} {r.status}{note}")
    print(f"checked {index}")
