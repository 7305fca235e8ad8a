"""The sandbox's trigger evaluator: the JSONPath subset and each of the 12 operators.

Each operator gets an event that matches and one that does not, so a wrong meaning fails here
(sandbox/triggers/criteria.py documents the meanings, taken from Jayway JsonPath's criteria).
"""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.errors import ApiError
from sandbox.triggers.criteria import OPERATORS, check_criterion, criterion_result, matches
from sandbox.triggers.jsonpath import BadPathError, extract, parse

EVENT: dict[str, Any] = {
    "id": "u1",
    "mediaType": "CHAT",
    "waitSeconds": 42,
    "startTime": "2026-12-05T10:00:00.000Z",
    "vip": True,
    "tags": ["gold", "de", "callback"],
    "routingStatus": {"status": "NOT_RESPONDING"},
    "participants": [{"purpose": "agent", "state": "alerting"}, {"purpose": "customer"}],
}

# (operator, jsonPath, value or values, whether EVENT matches)
CASES: list[tuple[str, str, Any, bool]] = [
    ("Equal", "mediaType", "CHAT", True),
    ("Equal", "mediaType", "chat", False),
    ("Equal", "waitSeconds", 42.0, True),
    ("Equal", "vip", 1, False),  # true never equals 1
    ("NotEqual", "mediaType", "EMAIL", True),
    ("NotEqual", "mediaType", "CHAT", False),
    ("GreaterThan", "waitSeconds", 41, True),
    ("GreaterThan", "waitSeconds", 42, False),
    ("GreaterThanOrEqual", "waitSeconds", 42, True),
    ("GreaterThanOrEqual", "waitSeconds", 43, False),
    ("LessThan", "startTime", "2026-12-05T11:00:00.000Z", True),
    ("LessThan", "waitSeconds", "50", False),  # a number never compares with a string
    ("LessThanOrEqual", "waitSeconds", 42, True),
    ("LessThanOrEqual", "waitSeconds", 41, False),
    ("In", "mediaType", ["CHAT", "EMAIL"], True),
    ("In", "mediaType", ["VOICE"], False),
    ("NotIn", "mediaType", ["VOICE"], True),
    ("NotIn", "mediaType", ["CHAT"], False),
    ("Contains", "tags", "de", True),
    ("Contains", "tags", "d", False),  # an array element, not a substring of one
    ("Contains", "routingStatus.status", "RESPOND", True),
    ("All", "tags", ["gold", "callback"], True),
    ("All", "tags", ["gold", "silver"], False),
    ("Exists", "routingStatus.status", True, True),
    ("Exists", "presence", True, False),
    ("Exists", "presence", False, True),
    ("Size", "tags", 3, True),
    ("Size", "tags", 2, False),
    ("Size", "participants[*].purpose", 2, True),  # an indefinite path is a list
    ("Equal", "$.participants[0].state", "alerting", True),
    ("Equal", "$['routingStatus']['status']", "NOT_RESPONDING", True),
    ("Contains", "participants[*].purpose", "customer", True),
    ("Equal", "missing.field", None, False),  # a path that reaches nothing matches nothing
    ("NotEqual", "missing.field", "x", False),
]


@pytest.mark.parametrize(("operator", "path", "operand", "expected"), CASES)
def test_each_operator(operator: str, path: str, operand: Any, expected: bool) -> None:
    key = "values" if operator in ("In", "NotIn", "All") else "value"
    criterion = check_criterion({"jsonPath": path, "operator": operator, key: operand})
    assert matches([criterion], EVENT) is expected
    assert criterion_result(criterion, EVENT)["match"] is expected


def test_every_operator_is_covered_both_ways() -> None:
    for operator in OPERATORS:
        outcomes = {expected for op, _, _, expected in CASES if op == operator}
        assert outcomes == {True, False}, operator


def test_criteria_are_anded_and_none_match_everything() -> None:
    yes = check_criterion({"jsonPath": "mediaType", "operator": "Equal", "value": "CHAT"})
    no = check_criterion({"jsonPath": "vip", "operator": "Equal", "value": False})
    assert matches([yes], EVENT) and not matches([yes, no], EVENT)
    assert matches([], EVENT)


def test_extraction_paths_read_like_genesys_test_results() -> None:
    criterion = check_criterion({"jsonPath": "participants[*].purpose", "operator": "Exists"})
    result = criterion_result(criterion, EVENT)
    assert result["jsonPathExtraction"] == [
        {"value": "agent", "path": "$['participants'][0]['purpose']"},
        {"value": "customer", "path": "$['participants'][1]['purpose']"},
    ]
    assert result["generatedJsonPathCondition"] == (
        "$[?(@['participants'][*]['purpose'] exists true)]"
    )
    assert [p for p, _ in extract(parse("$.*"), {"a": 1, "b": 2})] == ["$['a']", "$['b']"]


@pytest.mark.parametrize(
    "path",
    ["", "$..status", "$[?(@.a == 1)]", "a[1:2]", "a[-1]", "a.", "1abc", "a b", "$['a','b']"],
)
def test_paths_outside_the_subset_are_refused(path: str) -> None:
    with pytest.raises(BadPathError):
        parse(path)
    with pytest.raises(ApiError) as caught:
        check_criterion({"jsonPath": path, "operator": "Exists"})
    assert caught.value.status == 400 and "jsonPath" in caught.value.message


@pytest.mark.parametrize(
    "criterion",
    [
        {"jsonPath": "a", "operator": "Matches", "value": "x"},
        {"jsonPath": "a", "operator": "In", "values": []},
        {"jsonPath": "a", "operator": "Equal"},
        {"jsonPath": "a", "operator": "Size", "value": -1},
        {"jsonPath": "a", "operator": "GreaterThan", "value": True},
        {"jsonPath": "a", "operator": "Exists", "value": "yes"},
        {"jsonPath": "a", "operator": "Equal", "values": ["x"]},
    ],
)
def test_operator_and_operand_mistakes_are_400(criterion: dict[str, Any]) -> None:
    with pytest.raises(ApiError) as caught:
        check_criterion(criterion)
    assert caught.value.status == 400
