"""Check JSON samples field by field against the official Genesys Python SDK models.

The SDK (``PureCloudPlatformClientV2``, a test-only dependency pinned in pyproject's ``test``
extra) is generated from Genesys' own schemas, so its ``attribute_map`` is the best public list of
the JSON names each body may carry (genesys-api.md sections 0 and 7). Importing it starts a
watchdog thread and reads a per-user config file, so it never runs inside the pytest process: the
tests start this module as a subprocess (``python -m tests.integration.sdk_validate``) with HOME
pointed at a temporary directory and talk to it one JSON line at a time:

* request on stdin: ``{"samples": [{"label": str, "model": str, "body": <json>}, ...],
  "extra_keys": [str, ...]}`` where ``model`` is an SDK type string such as
  ``UserEntityListing`` or ``list[UcUserPresence]`` and ``extra_keys`` (optional) names unknown
  keys to skip: the sandbox adds them on purpose, and the SDK's deserializer ignores unknown keys
  just as a client must (genesys-api.md 4.2);
* answer on stdout: ``{"results": [{"label": str, "problems": [Problem, ...], "extras": int},
  ...]}`` where ``extras`` counts the skipped keys (so a test can see they were there).

A problem is ``{"path", "model", "key", "kind", "detail"}`` with ``kind`` one of

* ``unknown_key`` - the JSON key is not a value of the model's ``attribute_map``;
* ``enum`` - the SDK setter turns the value into ``outdated_sdk_version`` (not an allowed value);
* ``enum_case`` - the SDK compares enums case-insensitively, but the value's casing differs from
  the allowed value (genesys-api.md 6.11: casing is part of the contract);
* ``invalid`` - the SDK setter raises ``ValueError`` (pattern or length rules);
* ``type`` - the JSON type does not fit the swagger type (``datetime`` must be ISO-8601 with a
  trailing ``Z``, genesys-api.md 7.3);
* ``unknown_model`` - the model name does not exist in the SDK.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
import sys
from functools import cache
from typing import Any

OUTDATED = "outdated_sdk_version"
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ALLOWED_RE = re.compile(r"allowed_values = (\[.*?\])", re.S)
PRIMITIVES = frozenset({"str", "int", "float", "bool", "datetime", "date", "object"})

Problem = dict[str, str]

_models: Any = None


def _sdk_models() -> Any:
    global _models  # noqa: PLW0603 - the SDK is imported once, lazily, in this subprocess only
    if _models is None:
        _models = importlib.import_module("PureCloudPlatformClientV2.models")
    return _models


@cache
def _model_class(name: str) -> Any:
    return getattr(_sdk_models(), name, None)


@cache
def _allowed_values(model: str, attr: str) -> tuple[str, ...] | None:
    """The exact-case enum values the SDK setter of ``model.attr`` lists, if any."""
    prop = getattr(_model_class(model), attr, None)
    setter = getattr(prop, "fset", None)
    if setter is None:
        return None
    found = ALLOWED_RE.search(inspect.getsource(setter))
    if found is None:
        return None
    values = ast.literal_eval(found.group(1))
    return tuple(str(v) for v in values)


class Validator:
    """Walks one JSON value against an SDK type string and collects problems."""

    def __init__(self, extra_keys: frozenset[str] = frozenset()) -> None:
        self.problems: list[Problem] = []
        self.extra_keys = extra_keys
        self.extras = 0

    def _add(self, path: str, model: str, key: str, kind: str, detail: str) -> None:
        self.problems.append(
            {"path": path, "model": model, "key": key, "kind": kind, "detail": detail}
        )

    def value(self, value: Any, type_str: str, path: str, model: str, key: str) -> None:
        """Validate ``value`` (found under ``key`` of ``model`` at ``path``) against a type."""
        if value is None:
            return  # any field may be null
        if type_str.startswith("list[") and type_str.endswith("]"):
            if not isinstance(value, list):
                self._add(path, model, key, "type", f"expected a list, got {value!r:.80}")
                return
            for index, item in enumerate(value):
                self.value(item, type_str[5:-1], f"{path}[{index}]", model, key)
            return
        if type_str.startswith("dict(") and type_str.endswith(")"):
            if not isinstance(value, dict):
                self._add(path, model, key, "type", f"expected an object, got {value!r:.80}")
                return
            inner = type_str[5:-1].split(",", 1)[1].strip()
            for name, item in value.items():
                self.value(item, inner, f"{path}.{name}", model, key)
            return
        if type_str in PRIMITIVES:
            if not _fits(value, type_str):
                self._add(path, model, key, "type", f"expected {type_str}, got {value!r:.80}")
            return
        self.model(value, type_str, path)

    def model(self, body: Any, name: str, path: str) -> None:
        """Validate a JSON object against the SDK model class ``name``."""
        cls = _model_class(name)
        if cls is None:
            self._add(path, name, "", "unknown_model", f"no SDK model {name}")
            return
        if not isinstance(body, dict):
            self._add(path, name, "", "type", f"expected an object for {name}, got {body!r:.80}")
            return
        probe = cls()
        by_json = {json_key: attr for attr, json_key in probe.attribute_map.items()}
        for key, item in body.items():
            attr = by_json.get(key)
            here = f"{path}.{key}"
            if attr is None:
                if key in self.extra_keys:
                    self.extras += 1
                    continue
                self._add(here, name, key, "unknown_key", f"{name} has no JSON key {key!r}")
                continue
            type_str = probe.swagger_types[attr]
            self.value(item, type_str, here, name, key)
            if type_str in PRIMITIVES and item is not None:
                self._setter(probe, name, attr, key=key, item=item, path=here)

    def _setter(self, probe: Any, model: str, attr: str, *, key: str, item: Any, path: str) -> None:
        """Run the SDK's own setter: enum membership and pattern/length validators."""
        try:
            setattr(probe, attr, item)
        except ValueError as exc:
            self._add(path, model, key, "invalid", str(exc))
            return
        except (TypeError, AttributeError) as exc:  # e.g. .lower() of a non-string enum
            self._add(path, model, key, "type", f"SDK setter rejected {item!r:.80}: {exc}")
            return
        allowed = _allowed_values(model, attr)
        if allowed is None:
            return
        if getattr(probe, attr) == OUTDATED and item != OUTDATED:
            self._add(path, model, key, "enum", f"{item!r} not in {list(allowed)}")
        elif str(item) not in allowed:
            self._add(path, model, key, "enum_case", f"{item!r}: SDK spells it {list(allowed)}")


def _fits(value: Any, type_str: str) -> bool:
    if type_str == "object":
        return True
    if type_str == "bool":
        return isinstance(value, bool)
    if type_str == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_str == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if not isinstance(value, str):
        return False
    if type_str == "datetime":
        return DATETIME_RE.match(value) is not None
    if type_str == "date":
        return DATE_RE.match(value) is not None
    return True


def validate(
    samples: list[dict[str, Any]], extra_keys: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """Validate every sample; one result per sample, in order."""
    results: list[dict[str, Any]] = []
    for sample in samples:
        checker = Validator(extra_keys)
        checker.value(sample["body"], str(sample["model"]), "$", "", "")
        results.append(
            {"label": sample["label"], "problems": checker.problems, "extras": checker.extras}
        )
    return results


def main() -> int:
    """Answer one JSON line per request line until stdin closes."""
    _sdk_models()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        extra = frozenset(str(k) for k in request.get("extra_keys", []))
        answer = {"results": validate(request["samples"], extra)}
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
