"""The import rule of the architecture, as code the test suite runs (tests/unit/test_import_rule.py)
and a person can run from the project root: ``python tools/check_imports.py .``.

Imports only point down: core -> nothing of ours; exchanges -> core; agents -> core; the front
ends and the gateway (tui/, gateway/, cli/, runtime/, client/, any other top-level package of
ours) may import anything of ours, except that tui/ and gateway/ never import each other (the
engine is built by a module both import). Only absolute imports are checked, as in the rule's
first checker (../shared/tools/check_imports.py), whose rules these are.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

LOWER = {"core": {"core"}, "exchanges": {"core", "exchanges"}, "agents": {"core", "agents"}}
APART = {"tui": "gateway", "gateway": "tui"}
NOT_CHECKED = {"themes", "tests", "benchmarks"}


@dataclass(frozen=True)
class Result:
    violations: list[str]
    files: int


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    return []


def check(root: Path) -> Result:
    """Every import under ``root``'s packages that points where the rule forbids, as
    ``path:line imports name``, and how many files were read."""
    ours = {p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").exists()} | set(LOWER) | {"themes"}
    upper = ours - set(LOWER) - NOT_CHECKED
    bad: list[str] = []
    files = 0
    for top in sorted(set(LOWER) | upper):
        allowed = LOWER.get(top) or (ours - {APART.get(top, "")})
        for path in sorted((root / top).rglob("*.py")) if (root / top).is_dir() else []:
            files += 1
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                for name in _imported(node):
                    head = name.split(".")[0]
                    if head in ours and head not in allowed:
                        bad.append(f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)} imports {name}")
    return Result(bad, files)


def main(argv: list[str]) -> int:
    result = check(Path(argv[1] if len(argv) > 1 else "."))
    for line in result.violations:
        print(line)
    if result.files == 0:
        print("no package files found under core/ exchanges/ agents/ tui/")
        return 1
    print(f"import rule: {len(result.violations)} violations in {result.files} files")
    return 1 if result.violations else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
