"""The events the platform publishes, by type and version, and their reading back from an envelope.

A consumer in another department turns an envelope into the event object with `event_of`: the fields it knows
are read and checked, the ones it does not are ignored (a producer may add fields in the same version), a
missing required field or a wrong type is `MalformedMessage`."""

from __future__ import annotations

import dataclasses
import importlib
import types
import typing
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from souscription.integrations.bus.envelope import Envelope, MalformedMessage, parse_moment
from souscription.kernel.events import DomainEvent

EVENT_MODULES = ("souscription.subscriptions.events",)
"""Each context's `events.py` that publishes: a context adding published events adds its module here."""


def published_events(modules: Iterable[str] = EVENT_MODULES) -> dict[tuple[str, int], type[DomainEvent]]:
    """Every concrete event class (one with a `name`) of `modules`, by (type, version)."""
    found: dict[tuple[str, int], type[DomainEvent]] = {}
    for module_name in modules:
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if _is_published(value, module_name):
                key = (value.name, value.version)
                if key in found and found[key] is not value:
                    raise ValueError(f"Deux classes publient {key[0]} v{key[1]} : {found[key]} et {value}.")
                found[key] = value
    return dict(sorted(found.items()))


def _is_published(value: object, module_name: str) -> bool:
    return (
        isinstance(value, type)
        and issubclass(value, DomainEvent)
        and value.__module__ == module_name
        and isinstance(getattr(value, "name", None), str)
    )


def event_of(envelope: Envelope, catalogue: dict[tuple[str, int], type[DomainEvent]] | None = None) -> DomainEvent:
    """The event object of `envelope`, unknown payload fields ignored."""
    classes = published_events() if catalogue is None else catalogue
    cls = classes.get((envelope.event_type, envelope.version))
    if cls is None:
        raise MalformedMessage("type", f"Événement inconnu : {envelope.event_type} v{envelope.version}.")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(cls):
        if spec.name not in envelope.payload:
            if is_required(spec):
                raise MalformedMessage(spec.name, f"Champ obligatoire absent du contenu : « {spec.name} ».")
            continue
        values[spec.name] = _read(spec.name, hints[spec.name], envelope.payload[spec.name])
    return cls(**values)


def is_required(spec: dataclasses.Field[Any]) -> bool:
    return spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING


def _read(name: str, hint: Any, value: Any) -> Any:
    """`value` from JSON as the field's Python type, checked (JSON has no tuple and no date)."""
    if _is_optional(hint):
        inner = next(arg for arg in typing.get_args(hint) if arg is not type(None))
        return None if value is None else _read(name, inner, value)
    if hint is datetime:
        return parse_moment(_checked(name, value, str), name)
    if typing.get_origin(hint) is tuple:
        items = _checked(name, value, list)
        item_hint = typing.get_args(hint)[0]
        return tuple(_read(name, item_hint, item) for item in items)
    if hint in (str, int, bool, float):
        return _checked(name, value, hint)
    raise TypeError(f"Type de champ non pris en charge par le bus : {name}: {hint!r}")


def _is_optional(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)


def _checked(name: str, value: Any, kind: type) -> Any:
    accepted = (int, float) if kind is float else kind
    if not isinstance(value, accepted) or (kind is not bool and isinstance(value, bool)):
        raise MalformedMessage(name, f"Le champ « {name} » n'a pas le type attendu ({kind.__name__}).")
    return value
