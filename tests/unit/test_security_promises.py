"""Every promise SECURITY.md makes names the tests that check it, and those tests exist.

A promise without a test drifts: the code changes, the page does not. So the page's section
"Every promise and its test" is a table of promises, each with the pytest node ids that check it,
and this file fails when a row names no test, names a file or a test that does not exist, or when
the page mentions a test file that is gone.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "SECURITY.md"
SECTION = "## Every promise and its test"
NODE = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")


def _section(text: str) -> str:
    start = text.index(SECTION) + len(SECTION)
    end = text.find("\n## ", start)
    return text[start : end if end != -1 else len(text)]


def _rows(section: str) -> list[tuple[str, str]]:
    """(promise, the tests cell) of every body row of the section's table."""
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not line.lstrip().startswith("|") or set(cells[1]) <= {"-"}:
            continue
        if cells[0] == "Promise":
            continue
        rows.append((cells[0], cells[1]))
    return rows


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    }


def test_the_page_has_a_table_of_promises() -> None:
    rows = _rows(_section(PAGE.read_text(encoding="utf-8")))
    assert len(rows) >= 20, "the promise table lost rows"


def test_every_promise_names_at_least_one_existing_test() -> None:
    missing: list[str] = []
    for promise, cell in _rows(_section(PAGE.read_text(encoding="utf-8"))):
        nodes = NODE.findall(cell)
        if not any(name for _, name in nodes):
            missing.append(f"{promise[:60]}: names no test")
        for file, name in nodes:
            path = ROOT / file
            if not path.is_file():
                missing.append(f"{promise[:60]}: no file {file}")
            elif name and name not in _test_names(path):
                missing.append(f"{promise[:60]}: no test {file}::{name}")
    assert missing == []


def test_every_test_file_the_page_mentions_exists() -> None:
    mentioned = {file for file, _ in NODE.findall(PAGE.read_text(encoding="utf-8"))}
    assert mentioned, "the page names no test at all"
    assert sorted(f for f in mentioned if not (ROOT / f).is_file()) == []
