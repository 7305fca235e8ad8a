"""A local evaluator of match criteria: "Would it fire?" without asking Genesys Cloud.

Genesys does not document the operators' exact semantics (fact sheet 5.2), so this is an
approximation and the app says so; the authoritative answer is the org's ``/test``. What it
assumes: every criterion must match (AND); a path may be written ``a.b``, ``$.a.b``,
``$['a']['b']``, ``a[0]`` or ``a[*]``; when a path finds several values a comparison matches if
any of them does; ``Contains`` is membership in a list or a substring of text; ``All`` means the
list holds every one of ``values``; ``Exists`` compares presence with a boolean ``value``
(true when absent); ``Size`` compares a list's or text's length with ``value``. Text compares
case-sensitively, as JSON does; numbers compare as numbers. Never raises on odd input.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from core.triggers.model import OPERATORS, Criterion

logger = logging.getLogger(__name__)

_MISSING: Final = object()
_TOKEN_RE: Final = re.compile(
    r"""\.?\[\s*'((?:[^'\\]|\\.)*)'\s*\]   # ['name']
      |\.?\[\s*"((?:[^"\\]|\\.)*)"\s*\]   # ["name"]
      |\.?\[\s*(\*|-?\d+)\s*\]            # [0] or [*]
      |\.?([^.\[\]]+)                     # name or *
    """,
    re.VERBOSE,
)


class PathError(ValueError):
    """A JSON path this evaluator cannot read."""


def path_steps(path: str) -> list[str | int]:
    """The steps of a Goessner path: names, list indexes, and ``"*"`` for every child.

    Raises:
        PathError: empty or unreadable.
    """
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    if not text:
        raise PathError("empty path")
    steps: list[str | int] = []
    pos = 0
    while pos < len(text):
        found = _TOKEN_RE.match(text, pos)
        if found is None or found.end() == pos:
            raise PathError(f"cannot read the path at {text[pos:]!r}")
        single, double, index, name = found.groups()
        if single is not None or double is not None:
            steps.append(single if single is not None else double)
        elif index is not None:
            steps.append("*" if index == "*" else int(index))
        else:
            steps.append(name.strip())
        pos = found.end()
    return steps


def extract(body: object, path: str) -> list[Any]:
    """Every value ``path`` finds in ``body`` (empty: none; raises :class:`PathError`)."""
    current: list[Any] = [body]
    for step in path_steps(path):
        following: list[Any] = []
        for node in current:
            if step == "*":
                if isinstance(node, Mapping):
                    following.extend(node.values())
                elif isinstance(node, list):
                    following.extend(node)
            elif isinstance(step, int):
                if isinstance(node, list) and -len(node) <= step < len(node):
                    following.append(node[step])
            elif isinstance(node, Mapping) and step in node:
                following.append(node[step])
        current = following
    return current


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _equal(found: object, wanted: object) -> bool:
    a, b = _number(found), _number(wanted)
    if a is not None and b is not None and not isinstance(found, str | bool):
        return a == b
    return bool(found == wanted)


def _order(found: object, wanted: object, op: str) -> bool:
    a, b = _number(found), _number(wanted)
    if a is None or b is None:
        if isinstance(found, str) and isinstance(wanted, str):  # ISO dates order as text
            a_s, b_s = found, wanted
            return {
                "GreaterThan": a_s > b_s,
                "GreaterThanOrEqual": a_s >= b_s,
                "LessThan": a_s < b_s,
                "LessThanOrEqual": a_s <= b_s,
            }[op]
        return False
    return {
        "GreaterThan": a > b,
        "GreaterThanOrEqual": a >= b,
        "LessThan": a < b,
        "LessThanOrEqual": a <= b,
    }[op]


def _one(found: object, criterion: Criterion) -> bool:
    op, wanted = criterion.operator, criterion.value
    if op == "Equal":
        return _equal(found, wanted)
    if op == "NotEqual":
        return not _equal(found, wanted)
    if op in ("GreaterThan", "GreaterThanOrEqual", "LessThan", "LessThanOrEqual"):
        return _order(found, wanted, op)
    if op == "In":
        return any(_equal(found, v) for v in criterion.values)
    if op == "NotIn":
        return not any(_equal(found, v) for v in criterion.values)
    if op == "Contains":
        if isinstance(found, list):
            return any(_equal(item, wanted) for item in found)
        return isinstance(found, str) and isinstance(wanted, str) and wanted in found
    if op == "All":
        return isinstance(found, list) and all(
            any(_equal(item, v) for item in found) for v in criterion.values
        )
    if op == "Size":
        size = _number(wanted)
        return isinstance(found, list | str | dict) and size is not None and len(found) == size
    return False


@dataclass(frozen=True, slots=True)
class CriterionResult:
    """How one criterion went on one body: whether it matched and the values its path found."""

    criterion: Criterion
    matched: bool
    found: tuple[Any, ...]
    problem: str = ""  # the path could not be read, or the operator is unknown


def check(body: object, criterion: Criterion) -> CriterionResult:
    """Evaluate one criterion on one event body."""
    try:
        found = extract(body, criterion.json_path)
    except PathError as exc:
        return CriterionResult(criterion, False, (), f"The field {criterion.json_path!r}: {exc}.")
    if criterion.operator == "Exists":
        wanted = criterion.value is not False  # no value (or true): it must be there
        return CriterionResult(criterion, bool(found) == wanted, tuple(found))
    if criterion.operator not in OPERATORS:
        return CriterionResult(criterion, False, tuple(found), "Unknown comparison.")
    if not found:
        # An absent field: only "not equal" and "not in" can hold of nothing.
        matched = criterion.operator in ("NotEqual", "NotIn")
        return CriterionResult(criterion, matched, ())
    if criterion.operator in ("NotEqual", "NotIn"):
        matched = all(_one(value, criterion) for value in found)
    else:
        matched = any(_one(value, criterion) for value in found)
    return CriterionResult(criterion, matched, tuple(found))


def matches(body: object, criteria: Sequence[Criterion]) -> bool:
    """Whether every criterion matches ``body`` (no criteria: every event matches)."""
    return all(check(body, c).matched for c in criteria)


def explain(body: object, criteria: Sequence[Criterion]) -> list[CriterionResult]:
    """Each criterion's result on ``body``, in order (for "Would it fire?")."""
    return [check(body, c) for c in criteria]
