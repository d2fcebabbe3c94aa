"""Every third-party module the package imports without an ImportError guard is a base
dependency: `personax build` once failed with exit 1 ("No module named 'yaml'") on a plain
`pip install personax`, because only the test extras pulled PyYAML in."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _catches_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        names = ast.unparse(handler.type) if handler.type else "BaseException"
        if "ImportError" in names or "ModuleNotFoundError" in names:
            return True
    return False


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Inside a ``try`` that catches ImportError, or its handler (the fallback for another
    version): optional extras are imported so."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try) and _catches_import_error(node):
            return True
    return False


def _unguarded_imports() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted((ROOT / "src" / "personax").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = {
            child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            if _guarded(node, parents):
                continue
            for module in modules:
                top = module.split(".")[0]
                if top != "personax" and top not in sys.stdlib_module_names:
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def _base_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0] for req in project["dependencies"]}
    return {name.lower().replace("_", "-") for name in names}


def test_every_unguarded_import_is_a_base_dependency():
    base = _base_requirements()
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for module, where in sorted(_unguarded_imports().items()):
        owners = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not owners & base:
            missing.append(f"{module} ({where}; installed by {', '.join(sorted(owners))})")
    assert not missing, "imported without a guard but not a base dependency: " + "; ".join(missing)
