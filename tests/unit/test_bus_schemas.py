"""The JSON Schemas in `docs/events/` are the ones the event classes generate, and the messages obey them."""

from __future__ import annotations

import dataclasses
import json
import typing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from souscription.integrations.bus.catalogue import published_events
from souscription.integrations.bus.envelope import encode, envelope_of
from souscription.integrations.bus.schemas import generated, schema_of, type_schema
from souscription.kernel.events import DomainEvent

FOLDER = Path(__file__).parents[2] / "docs" / "events"
REGENERATE = "régénérez-les : python -m souscription.integrations.bus.schemas docs/events"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_the_committed_schemas_are_exactly_the_generated_ones() -> None:
    committed = {path.name: path.read_text(encoding="utf-8") for path in FOLDER.glob("*.json")}
    expected = generated()
    assert sorted(committed) == sorted(expected), f"schémas manquants ou en trop dans docs/events ; {REGENERATE}"
    for name, text in expected.items():
        assert committed[name] == text, f"{name} ne correspond plus à sa classe d'événement ; {REGENERATE}"


def test_every_dossier_transition_event_is_published_once_per_version() -> None:
    names = {name for name, _version in published_events()}
    assert {"subscriptions.dossier_created", "subscriptions.dossier_signed", "subscriptions.dossier_closed"} <= names
    assert len(generated()) == len(published_events())


@pytest.mark.parametrize("text", sorted(generated().values()), ids=sorted(generated()))
def test_each_schema_is_a_valid_draft_2020_12_schema(text: str) -> None:
    schema = json.loads(text)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert jsonschema_rs.meta.is_valid(schema)


def sample(cls: type[DomainEvent]) -> DomainEvent:
    """An instance of `cls` with a value of the right type in every field."""
    values = {"str": "SOU-1", "int": 12_000, "bool": True, "datetime": NOW}
    hints = typing.get_type_hints(cls)
    arguments: dict[str, Any] = {}
    for spec in dataclasses.fields(cls):
        hint = hints[spec.name]
        arguments[spec.name] = ("sport",) if typing.get_origin(hint) is tuple else values[hint.__name__]
    return cls(**arguments)


@pytest.mark.parametrize(("key", "cls"), sorted(published_events().items()), ids=lambda value: str(value))
def test_a_published_message_obeys_its_schema(key: tuple[str, int], cls: type[DomainEvent]) -> None:
    schema = json.loads((FOLDER / f"{key[0]}.v{key[1]}.json").read_text(encoding="utf-8"))
    message = json.loads(encode(envelope_of(sample(cls), message_id="m-1", producer="subscriptions")))
    validator = jsonschema_rs.Draft202012Validator(schema, validate_formats=True)
    assert [error.message for error in validator.iter_errors(message)] == []
    message["payload"]["added_in_a_later_release"] = 1
    assert validator.is_valid(message), "a field added within a version must not break the contract"
    del message["payload"]["subscription_id"]
    assert not validator.is_valid(message)


def test_an_event_with_a_field_type_the_bus_cannot_describe_is_refused() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Strange(DomainEvent):
        name = "tests.strange"
        amount: complex

    with pytest.raises(TypeError, match="complex"):
        schema_of(Strange)


def test_optional_fields_accept_null() -> None:
    assert type_schema(int | None) == {"anyOf": [{"type": "integer"}, {"type": "null"}]}


def test_the_readme_lists_every_published_event() -> None:
    readme = (FOLDER / "README.md").read_text(encoding="utf-8")
    missing = [name for name in generated() if f"]({name})" not in readme]
    assert missing == [], f"docs/events/README.md ne liste pas : {missing}"
