"""The core models' validators are built on first use, not when ``core.models`` is imported (the
app's first frame does not wait for them), and ``build_schemas`` builds the rest afterwards.
A fresh interpreter each: in the test process other tests have long used the models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_the_models_builds_no_validator_and_first_use_builds_one() -> None:
    out = run(
        "from decimal import Decimal\n"
        "import core.models as m\n"
        "print(sorted(c.__name__ for c in m._Model.__subclasses__() if c.__pydantic_complete__))\n"
        "m.OrderRequest(venue='paper', symbol='BTC/USDT', side='buy', size=Decimal('0.001'), price=Decimal(1))\n"
        "print(m.OrderRequest.__pydantic_complete__, m.Order.__pydantic_complete__)\n"
    )
    assert out.splitlines() == ["[]", "True False"]


def test_build_schemas_builds_every_model_and_they_validate_as_before() -> None:
    out = run(
        "import core.models as m\n"
        "m.build_schemas()\n"
        "print(all(c.__pydantic_complete__ for c in m._Model.__subclasses__()))\n"
        "try:\n"
        "    m.Balance(asset='USDT', free='x', used=0)\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__)\n"
    )
    assert out.splitlines() == ["True", "ValidationError"]
