"""The import rule (ARCHITECTURE.md: imports only point down) holds for the project, and the
checker that says so does catch a violating import: shown on a tiny tree written here."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "check_imports.py"


def _checker() -> ModuleType:
    """The checker is a script beside the packages, not one of them: loaded from its file."""
    spec = importlib.util.spec_from_file_location("check_imports", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_imports"] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


check_imports = _checker()


def _tree(root: Path, files: dict[str, str]) -> Path:
    for package in ("core", "exchanges", "agents", "tui", "gateway", "runtime"):
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").write_text("")
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_the_project_keeps_the_import_rule() -> None:
    result = check_imports.check(ROOT)
    assert result.files > 200  # it read the project, not an empty directory
    assert result.violations == []


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("core/model.py", "import tui.app\n", "core/model.py:1 imports tui.app"),
        ("core/model.py", "x = 1\nfrom exchanges.paper import venue\n", "core/model.py:2 imports exchanges.paper"),
        ("exchanges/venue.py", "from agents.team import x\n", "exchanges/venue.py:1 imports agents.team"),
        ("agents/team.py", "import runtime.wiring\n", "agents/team.py:1 imports runtime.wiring"),
        ("tui/app.py", "from gateway.server import serve\n", "tui/app.py:1 imports gateway.server"),
        ("gateway/server.py", "def f():\n    import tui.app\n", "gateway/server.py:2 imports tui.app"),
    ],
)
def test_a_violating_import_is_reported(tmp_path: Path, name: str, text: str, expected: str) -> None:
    result = check_imports.check(_tree(tmp_path, {name: text}))
    assert result.violations == [expected]


def test_imports_pointing_down_pass(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "core/model.py": "import decimal\nfrom core import ledger\nfrom . import x\n",
        "exchanges/venue.py": "from core.models import Order\nimport exchanges.paper\n",
        "agents/team.py": "import core.events\n",
        "tui/app.py": "import agents.team, exchanges.paper, core.engine, runtime.wiring\n",
        "gateway/server.py": "from runtime.wiring import build\n",
        "runtime/wiring.py": "import tui.app\nimport gateway.server\n",
    })
    result = check_imports.check(root)
    assert result.violations == []
    assert result.files == 12


def test_the_command_exits_1_naming_the_violation(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"core/model.py": "import tui\n"})
    run = subprocess.run([sys.executable, str(SCRIPT), str(root)], capture_output=True, text=True, check=False)
    assert run.returncode == 1
    assert "core/model.py:1 imports tui" in run.stdout
    clean = subprocess.run([sys.executable, str(SCRIPT), str(ROOT)], capture_output=True, text=True, check=False)
    assert clean.returncode == 0, clean.stdout
