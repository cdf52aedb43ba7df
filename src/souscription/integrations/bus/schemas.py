"""JSON Schemas (draft 2020-12) of the published messages, generated from the event classes.

One file per event type and version in `docs/events/`, `<type>.v<version>.json`, describing the whole message
(the envelope and its payload). They are generated, never written by hand, and a unit test checks that the
committed files equal what this module generates, so the published contract cannot drift from the code.
Regenerate with `python -m souscription.integrations.bus.schemas docs/events`.

No `additionalProperties: false`: a producer may add a field within a version and consumers ignore what they do
not know; removing or changing a field is a new version."""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from datetime import datetime
from pathlib import Path
from typing import Any

from souscription.integrations.bus.catalogue import is_required, published_events
from souscription.integrations.bus.envelope import routing_key
from souscription.kernel.events import DomainEvent

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "https://souscription.example/events/"


def file_name(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}.json"


def schema_of(cls: type[DomainEvent]) -> dict[str, Any]:
    """The schema of the message that carries a `cls` event."""
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    payload: dict[str, Any] = {
        "type": "object",
        "properties": {spec.name: _field_schema(spec, hints[spec.name]) for spec in fields},
        "required": [spec.name for spec in fields if is_required(spec)],
    }
    schema: dict[str, Any] = {
        "$schema": SCHEMA_DIALECT,
        "$id": ID_BASE + file_name(cls.name, cls.version),
        "title": f"{cls.name} v{cls.version}",
    }
    if description := _description(cls):
        schema["description"] = description
    schema |= {
        "x-routing-key": routing_key(cls.name, cls.version),
        "type": "object",
        "properties": {
            "message_id": {"type": "string", "minLength": 1, "description": "Stable: the same event, the same id."},
            "type": {"const": cls.name},
            "version": {"const": cls.version},
            "occurred_at": {"type": "string", "format": "date-time"},
            "producer": {"type": "string"},
            "payload": payload,
        },
        "required": ["message_id", "type", "version", "occurred_at", "producer", "payload"],
    }
    return schema


def _description(cls: type) -> str:
    """The class's own docstring; dataclasses invent one (`Name(field: type, ...)`) that is no description."""
    doc = cls.__dict__.get("__doc__") or ""
    return "" if doc.startswith(f"{cls.__name__}(") else " ".join(doc.split())


def _field_schema(spec: dataclasses.Field[Any], hint: Any) -> dict[str, Any]:
    schema = type_schema(hint)
    if spec.default is not dataclasses.MISSING:
        schema["default"] = json.loads(json.dumps(spec.default))
    return schema


def type_schema(hint: Any) -> dict[str, Any]:
    """The JSON Schema of one Python type among those events may use; any other type is refused, never guessed."""
    if hint is str:
        return {"type": "string"}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if hint is datetime:
        return {"type": "string", "format": "date-time"}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return {"type": "array", "items": type_schema(args[0])}
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        others = [arg for arg in args if arg is not type(None)]
        return {"anyOf": [*(type_schema(arg) for arg in others), {"type": "null"}]}
    raise TypeError(f"Type sans schéma JSON défini pour le bus : {hint!r}")


def generated() -> dict[str, str]:
    """File name -> text of every schema, as committed in `docs/events/`."""
    return {
        file_name(event_type, version): json.dumps(schema_of(cls), indent=2, ensure_ascii=False) + "\n"
        for (event_type, version), cls in published_events().items()
    }


def write(folder: Path) -> list[str]:
    """Write every schema into `folder`; returns the file names written."""
    folder.mkdir(parents=True, exist_ok=True)
    files = generated()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return sorted(files)


if __name__ == "__main__":
    for written in write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/events")):
        print(written)
