"""pyproject.toml declares exactly the distributions genofm imports, with floors CI actually runs."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_distributions() -> dict[str, set[str]]:
    """distribution -> files of src/genofm importing it (standard library and genofm left out)."""
    providers = importlib.metadata.packages_distributions()
    found: dict[str, set[str]] = {}
    for path in (ROOT / "src" / "genofm").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top == "genofm" or top in sys.stdlib_module_names:
                    continue
                assert top in providers, f"{path}: imports {top!r}, which no installed distribution provides"
                for dist in providers[top]:
                    found.setdefault(_canonical(dist), set()).add(str(path.relative_to(ROOT)))
    return found


def _declared() -> dict[str, str]:
    """canonical name -> floor of each dependency in pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {}
    for spec in project["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", spec)
        assert match, f"{spec!r}: declare dependencies as NAME>=FLOOR"
        declared[_canonical(match.group(1))] = match.group(2)
    return declared


def _pins() -> dict[str, str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return {_canonical(n): v for n, v in (line.split("==", 1) for line in lines if "==" in line and not line.startswith("#"))}


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_pyproject_declares_exactly_what_the_code_imports():
    imported, declared = _imported_distributions(), _declared()
    undeclared = {d: sorted(files)[:2] for d, files in imported.items() if d not in declared}
    unused = sorted(set(declared) - set(imported))
    assert not undeclared, f"imported but not in pyproject.toml dependencies: {undeclared}"
    assert not unused, f"declared in pyproject.toml but never imported by src/genofm: {unused}"


def test_floors_are_the_pinned_release_series():
    pins = _pins()
    for name, floor in _declared().items():
        assert name in pins, f"{name}: declared but not pinned in requirements.txt"
        pinned = _version_tuple(pins[name])
        assert _version_tuple(floor) <= pinned, f"{name}: floor {floor} above the pinned {pins[name]}"
        assert _version_tuple(floor)[:2] == pinned[:2], f"{name}: floor {floor} is not the tested series {pins[name]}"


def test_requires_python_is_the_interpreter_ci_runs():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floor = _version_tuple(project["requires-python"].removeprefix(">="))
    assert floor <= sys.version_info[:2]
