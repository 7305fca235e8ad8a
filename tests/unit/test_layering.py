"""The package layering the architecture relies on, checked mechanically.

* ``core`` is pure asyncio: importing any of it never loads Qt (so it runs and tests headless,
  and could back another front end);
* ``sandbox`` (the fake Genesys org) stands alone: it never imports ``core``, so the sandbox
  cannot quietly agree with the client's own bugs;
* ``gui`` does no network I/O itself: every socket belongs to ``core``.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TypedDict

import pytest

REPO = Path(__file__).resolve().parents[2]
QT_MODULES = ("PySide6", "shiboken6", "qasync")
NETWORK_MODULES = ("httpx", "websockets", "aiohttp", "socket", "requests", "urllib3")

# Runs in a fresh interpreter: imports core and every module below it, then reports which
# Qt modules ended up in sys.modules, and which core modules failed to import.
IMPORT_ALL = """
import importlib, json, pkgutil, sys
roots = sys.argv[1].split(",")
forbidden = tuple(sys.argv[2].split(","))
imported, failed = [], {}
for root in roots:
    pkg = importlib.import_module(root)
    imported.append(root)
    def onerror(name):
        failed[name] = repr(sys.exc_info()[1])
    for info in pkgutil.walk_packages(getattr(pkg, "__path__", []), root + ".", onerror=onerror):
        try:
            importlib.import_module(info.name)
            imported.append(info.name)
        except Exception as exc:
            failed[info.name] = repr(exc)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in forbidden)
print(json.dumps({"imported": imported, "failed": failed, "qt": loaded}))
"""


class ImportReport(TypedDict):
    """What the IMPORT_ALL probe prints."""

    imported: list[str]
    failed: dict[str, str]
    qt: list[str]


def import_everything(*roots: str) -> ImportReport:
    """Import ``roots`` and all their submodules in a clean interpreter; report what loaded."""
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, ",".join(roots), ",".join(QT_MODULES)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: ImportReport = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def python_files(package: str) -> list[Path]:
    """Every .py file of a top-level package (checked non-empty so the test cannot pass idly)."""
    files = sorted((REPO / package).rglob("*.py"))
    assert files, f"{package}/ has no Python files"
    return files


def imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import, including importlib.import_module("x")."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            for alias in node.names:  # "from PySide6 import QtNetwork" style
                yield node.lineno, f"{node.module}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def violations(package: str, banned: tuple[str, ...]) -> list[str]:
    """``file:line module`` for each import in ``package`` of a module in (or under) ``banned``."""
    found = []
    for path in python_files(package):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for lineno, module in imported_modules(tree):
            if module.split(".")[0] in banned:
                found.append(f"{path.relative_to(REPO)}:{lineno} imports {module}")
    return sorted(set(found))


def test_core_imports_no_qt() -> None:
    """Importing every module under core/ loads no PySide6, shiboken6 or qasync."""
    result = import_everything("core")
    assert "core" in result["imported"]
    assert result["failed"] == {}, "core modules that do not import cleanly"
    assert result["qt"] == [], "core pulled in Qt; keep Qt in gui/ and main.py"


def test_qt_detector_is_not_blind() -> None:
    """The import probe does see Qt when it is imported (so an empty result above means it)."""
    result = import_everything("core", "PySide6.QtCore")
    assert "PySide6.QtCore" in result["qt"]


def test_sandbox_does_not_import_core() -> None:
    """The fake org must not share code with the client it is testing."""
    assert violations("sandbox", ("core",)) == []


def test_gui_does_no_network_io() -> None:
    """gui/ talks to core, never to the network: no HTTP, WebSocket or socket imports."""
    assert violations("gui", NETWORK_MODULES) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import core", ["core"]),
        ("import core.auth.session as a", ["core.auth.session"]),
        ("from core.auth.session import Token", ["core.auth.session", "core.auth.session.Token"]),
        ("from . import core", []),  # relative: sandbox.core, not the top-level core
        ("import importlib\nimportlib.import_module('core.x')", ["importlib", "core.x"]),
        ("from socket import create_connection", ["socket", "socket.create_connection"]),
    ],
)
def test_import_scanner(source: str, expected: list[str]) -> None:
    """The AST scanner finds the import forms the checks above depend on."""
    assert [module for _line, module in imported_modules(ast.parse(source))] == expected
