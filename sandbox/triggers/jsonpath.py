"""The JSONPath subset trigger criteria may use in the sandbox.

Genesys documents ``jsonPath`` as "the Goessner json path of the field to match" and its own
example leaves the ``$.`` off (``"mediaType"``, fact sheet 5.2). The sandbox accepts exactly:

- an optional root ``$``; without it the path starts with a bare name (``routingStatus.status``);
- member steps ``.name`` or ``['name']`` / ``["name"]`` (a bare name is letters, digits, ``_``
  and ``-``, not starting with a digit or ``-``);
- array steps ``[0]`` (a non-negative index) and wildcards ``[*]`` / ``.*`` (every element or
  member).

Anything else (filters ``[?(...)]``, recursive descent ``..``, slices, unions, negative indexes,
scripts) is a bad ``jsonPath`` and the trigger is refused with 400. Extraction answers every
match with its normalised path, written as Genesys' test results show it (``$['mediaType']``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_BRACKET = re.compile(r"\[(?:'([^'\\]+)'|\"([^\"\\]+)\"|(\d+)|(\*))\]")


class BadPathError(ValueError):
    """The path is outside the subset (the message says where)."""


@dataclass(frozen=True, slots=True)
class Step:
    """One step: ``kind`` is ``key``, ``index`` or ``wild``."""

    kind: str
    key: str = ""
    index: int = 0


def parse(path: Any) -> tuple[Step, ...]:
    """The steps of ``path``; raises :class:`BadPathError` outside the subset."""
    if not isinstance(path, str) or not path.strip():
        raise BadPathError("jsonPath must be a non-empty string.")
    text = path.strip()
    pos = 0
    steps: list[Step] = []
    if text.startswith("$"):
        pos = 1
    else:
        found = _NAME.match(text)
        if found is None:
            raise BadPathError(f"jsonPath {path!r} must start with '$' or a field name.")
        steps.append(Step("key", found.group(0)))
        pos = found.end()
    while pos < len(text):
        char = text[pos]
        if text.startswith("..", pos):
            raise BadPathError(f"jsonPath {path!r}: recursive descent '..' is not supported.")
        if char == ".":
            if text.startswith(".*", pos):
                steps.append(Step("wild"))
                pos += 2
                continue
            found = _NAME.match(text, pos + 1)
            if found is None:
                raise BadPathError(
                    f"jsonPath {path!r}: expected a field name at position {pos + 1}."
                )
            steps.append(Step("key", found.group(0)))
            pos = found.end()
        elif char == "[":
            found = _BRACKET.match(text, pos)
            if found is None:
                raise BadPathError(
                    f"jsonPath {path!r}: only ['name'], [index] and [*] are supported "
                    f"(position {pos})."
                )
            quoted = found.group(1) or found.group(2)
            if quoted is not None:
                steps.append(Step("key", quoted))
            elif found.group(3) is not None:
                steps.append(Step("index", index=int(found.group(3))))
            else:
                steps.append(Step("wild"))
            pos = found.end()
        else:
            raise BadPathError(f"jsonPath {path!r}: unexpected {char!r} at position {pos}.")
    if not steps:
        raise BadPathError(f"jsonPath {path!r} names no field.")
    return tuple(steps)


def extract(steps: tuple[Step, ...], document: Any) -> list[tuple[str, Any]]:
    """Every ``(normalised path, value)`` the steps reach in ``document``, in document order."""
    current: list[tuple[str, Any]] = [("$", document)]
    for step in steps:
        following: list[tuple[str, Any]] = []
        for where, value in current:
            if step.kind == "key":
                if isinstance(value, dict) and step.key in value:
                    following.append((f"{where}['{step.key}']", value[step.key]))
            elif step.kind == "index":
                if isinstance(value, list) and step.index < len(value):
                    following.append((f"{where}[{step.index}]", value[step.index]))
            elif isinstance(value, list):
                following.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
            elif isinstance(value, dict):
                following.extend((f"{where}['{k}']", item) for k, item in value.items())
        current = following
    return current


def normalised(steps: tuple[Step, ...]) -> str:
    """The path written in bracket notation from the root (``$['a'][0][*]``)."""
    parts = ["$"]
    for step in steps:
        if step.kind == "key":
            parts.append(f"['{step.key}']")
        elif step.kind == "index":
            parts.append(f"[{step.index}]")
        else:
            parts.append("[*]")
    return "".join(parts)
