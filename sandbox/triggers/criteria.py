"""``matchCriteria``: validation, the 12 operators, and the ``/test`` result of each criterion.

The 12 operators are exactly the filter criteria of Jayway JsonPath (``eq, ne, lt, lte, gt, gte,
in, nin, contains, all, exists, size``), the Java JsonPath Goessner's syntax is implemented in,
so the sandbox takes Jayway's meaning of each (an inference: Genesys documents none of them,
fact sheet 5.2 and open question 5):

- ``Equal`` / ``NotEqual``: the value at the path equals / differs from ``value`` (numbers by
  value, ``true`` never equals ``1``);
- ``GreaterThan``, ``GreaterThanOrEqual``, ``LessThan``, ``LessThanOrEqual``: two numbers, or two
  strings compared character by character (ISO 8601 times sort correctly); other pairs never match;
- ``In`` / ``NotIn``: the value is / is not one of ``values``;
- ``Contains``: a string contains ``value`` as a substring, or an array has ``value`` as an element;
- ``All``: the array contains every one of ``values``;
- ``Exists``: the path is present (``value`` true, the default) or absent (``value`` false);
- ``Size``: the array (or string) has exactly ``value`` elements (characters).

A path with a wildcard (``[*]``, ``.*``) is indefinite: its value is the list of everything it
reaches, as in Jayway. A path that reaches nothing matches only ``Exists`` with ``value`` false.
Every criterion of a trigger must match (AND), and a trigger without criteria matches every event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sandbox.errors import bad_request
from sandbox.triggers.jsonpath import BadPathError, Step, extract, normalised, parse

VALUE_OPERATORS = (
    "Equal",
    "NotEqual",
    "GreaterThan",
    "GreaterThanOrEqual",
    "LessThan",
    "LessThanOrEqual",
    "Contains",
    "Exists",
    "Size",
)
VALUES_OPERATORS = ("In", "NotIn", "All")
OPERATORS = (*VALUE_OPERATORS, *VALUES_OPERATORS)
_SYMBOL = {
    "Equal": "==",
    "NotEqual": "!=",
    "GreaterThan": ">",
    "GreaterThanOrEqual": ">=",
    "LessThan": "<",
    "LessThanOrEqual": "<=",
    "In": "in",
    "NotIn": "nin",
    "Contains": "contains",
    "All": "all",
    "Exists": "exists",
    "Size": "size",
}
_ORDERED = ("GreaterThan", "GreaterThanOrEqual", "LessThan", "LessThanOrEqual")


@dataclass(frozen=True, slots=True)
class Criterion:
    """One validated criterion (``raw`` is the body as sent, echoed back unchanged)."""

    raw: dict[str, Any]
    steps: tuple[Step, ...]
    operator: str

    @property
    def definite(self) -> bool:
        """Whether the path names one place (no wildcard)."""
        return all(step.kind != "wild" for step in self.steps)


def check_criteria(value: Any) -> list[Criterion]:
    """Validate a ``matchCriteria`` list (None = no criteria); 400 with the reason otherwise."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_request("matchCriteria must be a list of MatchCriteria objects.")
    return [check_criterion(item, index) for index, item in enumerate(value)]


def check_criterion(item: Any, index: int = 0) -> Criterion:
    """One ``MatchCriteria``: a path in the subset, a known operator, ``value`` xor ``values``."""
    where = f"matchCriteria[{index}]"
    if not isinstance(item, dict):
        raise bad_request(f"{where} must be an object.")
    try:
        steps = parse(item.get("jsonPath"))
    except BadPathError as exc:
        raise bad_request(f"{where}: invalid jsonPath. {exc}") from None
    operator = item.get("operator")
    if operator not in OPERATORS:
        raise bad_request(
            f"{where}: invalid operator {operator!r}; use one of {', '.join(OPERATORS)}."
        )
    has_value, has_values = "value" in item, "values" in item
    if has_value and has_values:
        raise bad_request(f"{where}: only one of value and values can be included.")
    if operator in VALUES_OPERATORS:
        values = item.get("values")
        if not isinstance(values, list) or not values:
            raise bad_request(f"{where}: operator {operator} needs a non-empty 'values' list.")
    else:
        if has_values:
            raise bad_request(f"{where}: operator {operator} takes 'value', not 'values'.")
        _check_value(where, operator, item.get("value"), has_value)
    known = {k: v for k, v in item.items() if k in ("jsonPath", "operator", "value", "values")}
    return Criterion(known, steps, operator)


def _check_value(where: str, operator: str, value: Any, present: bool) -> None:
    if operator == "Exists":
        if present and not isinstance(value, bool):
            raise bad_request(f"{where}: operator Exists takes a boolean value.")
        return
    if not present:
        raise bad_request(f"{where}: operator {operator} needs a 'value'.")
    if operator == "Size" and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise bad_request(f"{where}: operator Size takes a whole number value of 0 or more.")
    if operator in _ORDERED and (
        isinstance(value, bool) or not isinstance(value, int | float | str)
    ):
        raise bad_request(f"{where}: operator {operator} takes a number or a string value.")


# --------------------------------------------------------------------------- evaluation
def _same(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    return bool(left == right)


def _compare(left: Any, right: Any) -> int | None:
    """-1, 0 or 1 for two numbers or two strings; None for any other pair."""
    if isinstance(left, bool) or isinstance(right, bool):
        return None
    if isinstance(left, int | float) and isinstance(right, int | float):
        return (left > right) - (left < right)
    if isinstance(left, str) and isinstance(right, str):
        return (left > right) - (left < right)
    return None


def _ordered(operator: str, left: Any, right: Any) -> bool:
    order = _compare(left, right)
    if order is None:
        return False
    if operator == "GreaterThan":
        return order > 0
    if operator == "GreaterThanOrEqual":
        return order >= 0
    if operator == "LessThan":
        return order < 0
    return order <= 0


def _apply(operator: str, left: Any, raw: dict[str, Any]) -> bool:
    value, values = raw.get("value"), raw.get("values") or []
    if operator == "Equal":
        return _same(left, value)
    if operator == "NotEqual":
        return not _same(left, value)
    if operator in _ORDERED:
        return _ordered(operator, left, value)
    if operator == "In":
        return any(_same(left, v) for v in values)
    if operator == "NotIn":
        return not any(_same(left, v) for v in values)
    if operator == "Contains":
        if isinstance(left, str):
            return isinstance(value, str) and value in left
        return isinstance(left, list) and any(_same(item, value) for item in left)
    if operator == "All":
        return isinstance(left, list) and all(any(_same(i, v) for i in left) for v in values)
    if operator == "Size":
        return isinstance(left, list | str) and len(left) == value
    raise AssertionError(operator)  # Exists is decided before


def evaluate(criterion: Criterion, body: Any) -> tuple[bool, list[tuple[str, Any]]]:
    """Whether ``body`` matches, and what the path extracted (``(path, value)`` pairs)."""
    found = extract(criterion.steps, body)
    if criterion.operator == "Exists":
        wanted = criterion.raw.get("value", True)
        return (bool(found) == wanted), found
    if not found:
        return False, found
    left = found[0][1] if criterion.definite else [value for _, value in found]
    return _apply(criterion.operator, left, criterion.raw), found


def matches(criteria: list[Criterion], body: Any) -> bool:
    """Every criterion matches (AND); no criteria match every event."""
    return all(evaluate(c, body)[0] for c in criteria)


def condition(criterion: Criterion) -> str:
    """``generatedJsonPathCondition`` in Jayway filter syntax, e.g. ``$[?(@['a'] == 'X')]``."""
    target = "@" + normalised(criterion.steps)[1:]
    raw = criterion.raw
    operand = raw["values"] if criterion.operator in VALUES_OPERATORS else raw.get("value", True)
    text = json.dumps(operand).replace('"', "'")
    return f"$[?({target} {_SYMBOL[criterion.operator]} {text})]"


def criterion_result(criterion: Criterion, body: Any) -> dict[str, Any]:
    """One ``MatchCriteriaTestResult``."""
    matched, found = evaluate(criterion, body)
    result: dict[str, Any] = {
        "jsonPath": criterion.raw.get("jsonPath"),
        "operator": criterion.operator,
    }
    if "value" in criterion.raw:
        result["value"] = criterion.raw["value"]
    if "values" in criterion.raw:
        result["values"] = criterion.raw["values"]
    result["generatedJsonPathCondition"] = condition(criterion)
    result["match"] = matched
    result["jsonPathExtraction"] = [{"value": value, "path": path} for path, value in found]
    return result
