"""Plugin packages for the tests.

The example plugin (``example_plugin/``, a package as its author would publish it) is installed
with pip, once per session, from a wheel of its pyproject.toml, into a directory of its own:
the test machines have no network and no ``wheel`` package, so setuptools cannot build it
there, and the shared virtualenv stays as it was whatever happens to the run. A test puts the
directory on ``sys.path`` (``PYTHONPATH`` for the ``opentrade`` processes it starts) and takes it
off again, so other tests never see the plugin. The broken packages are written in place: a
dist-info with its entry points beside the module.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.plugins import registry
from tests.tui.conftest import app_home, make_app, session_kind  # noqa: F401 - fixtures, for the tests that start the app

EXAMPLE = Path(__file__).parent / "example_plugin"
ROOT = Path(__file__).resolve().parents[2]


def _entry_points(groups: Mapping[str, Mapping[str, str]]) -> str:
    return "".join(f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in points.items()) + "\n"
                   for group, points in groups.items())


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}\n"


def build_wheel(project: Path, out: Path) -> Path:
    """A py3-none-any wheel of a pure-Python project, from its pyproject.toml."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    meta = pyproject["project"]
    dist = f"{meta['name'].replace('-', '_')}-{meta['version']}"
    files = {
        path.relative_to(project).as_posix(): path.read_bytes()
        for package in pyproject["tool"]["setuptools"]["packages"] for path in sorted((project / package).rglob("*.py"))
    }
    info = f"{dist}.dist-info"
    files[f"{info}/METADATA"] = (f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n"
                                 f"Summary: {meta['description']}\n").encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: opentrade-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{info}/entry_points.txt"] = _entry_points(meta["entry-points"]).encode()
    record = "".join(_record_line(path, data) for path, data in files.items()) + f"{info}/RECORD,,\n"
    wheel = out / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
        archive.writestr(f"{info}/RECORD", record)
    return wheel


@pytest.fixture(scope="session")
def example_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory pip installed the example plugin into (once per session)."""
    work = tmp_path_factory.mktemp("example-plugin")
    wheel = build_wheel(EXAMPLE, work)
    target = work / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", "--target", str(target), str(wheel)],
        check=True, capture_output=True, timeout=120,
    )
    return target


def write_package(root: Path, name: str, groups: Mapping[str, Mapping[str, str]], modules: Mapping[str, str],
                  version: str = "1.0") -> Path:
    """An installed package written in place: its modules and a dist-info naming its entry points."""
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(_entry_points(groups))
    for module, text in modules.items():
        (root / f"{module}.py").write_text(text)
    return root


@contextmanager
def on_path(*directories: Path) -> Iterator[None]:
    """Packages in these directories are installed while the block runs, and forgotten after."""
    before = set(sys.modules)
    sys.path[:0] = [str(d) for d in directories]
    registry().refresh()
    try:
        yield
    finally:
        for directory in directories:
            sys.path.remove(str(directory))
        for module in set(sys.modules) - before:
            if any(str(d) in str(getattr(sys.modules[module], "__file__", "") or "") for d in directories):
                del sys.modules[module]
        registry().refresh()


@pytest.fixture
def example_plugin(example_install: Path) -> Iterator[Path]:
    with on_path(example_install):
        yield example_install


def opentrade(*args: str, site: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The real command in a process of its own, with the plugin's directory on its path."""
    env = dict(os.environ)
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
