"""The message every bus carries, pure: what a domain event becomes on the wire, and back.

The message id is stable: derived from the recorded event (its row), never drawn at publication, so an event
published twice (a relay that crashed between the broker's confirmation and marking the row, a reconnection that
re-sends an unconfirmed message) reaches the consumers under the same id and they apply it once.

Reading is tolerant (the "tolerant reader"): fields this code does not know, at the top level or in the payload,
are ignored, so a producer can add a field without waiting for every consumer; a missing or ill-typed field the
contract requires is refused as `MalformedMessage`, which the bus dead-letters at once (retrying changes nothing).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from souscription.kernel.events import DomainEvent

# The namespace of the platform's message ids (uuid5): fixed forever, or every id changes and consumers re-apply.
MESSAGE_ID_NAMESPACE = uuid.UUID("5b0f3f4e-3c1a-5d0e-9d7e-2f6a8c1b4e90")

_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


class MalformedMessage(ValueError):
    """A body that is not a message of ours: not JSON, or a required field missing or of the wrong type."""

    code = "malformed_message"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class Envelope:
    message_id: str
    event_type: str
    """`<context>.<event>`, the event class's `name`: `subscriptions.dossier_signed`."""
    version: int
    occurred_at: datetime
    producer: str
    payload: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.message_id:
            raise MalformedMessage("message_id", "Le message n'a pas d'identifiant.")
        if not _EVENT_TYPE.match(self.event_type):
            raise MalformedMessage("type", f"Type d'événement invalide : « {self.event_type} » (contexte.événement).")
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise MalformedMessage("version", "La version du schéma doit être un entier positif.")
        if self.occurred_at.tzinfo is None:
            raise MalformedMessage("occurred_at", "La date de l'événement doit porter son fuseau horaire.")

    @property
    def context(self) -> str:
        return self.event_type.split(".", 1)[0]

    @property
    def routing_key(self) -> str:
        return routing_key(self.event_type, self.version)


def routing_key(event_type: str, version: int) -> str:
    """`<context>.<event>.v<version>`: consumers bind to one version, or to `subscriptions.*.v1`, or `#`."""
    return f"{event_type}.v{version}"


def stable_message_id(*parts: str) -> str:
    """A UUID determined by `parts` (what identifies the recorded event), the same on every run and machine."""
    return str(uuid.uuid5(MESSAGE_ID_NAMESPACE, "\x1f".join(parts)))


def envelope_of(event: DomainEvent, *, message_id: str, producer: str) -> Envelope:
    """The envelope of an event object; `message_id` comes from where the event is recorded (see `of_recorded`)."""
    data = event.payload()["data"]
    return Envelope(message_id, event.name, event.version, event.occurred_at, producer, _json_ready(data))


def of_recorded(
    *, source: str, row_id: int, name: str, version: int, payload: Mapping[str, Any], occurred_at: datetime
) -> Envelope:
    """The envelope of an event recorded in a table (an outbox row such as `subscriptions.DossierEvent`).

    `payload` is what the row keeps, `DomainEvent.payload()`: `{"event", "version", "data"}`. The id is derived
    from the table (`source`), the row id and what the row says (dossier, occurrence), so a database rebuilt
    from scratch, whose ids start again at 1, does not collide with the events its consumers already applied."""
    data = payload.get("data", payload)
    moment = occurred_at.astimezone(UTC).isoformat()
    message_id = stable_message_id(source, str(row_id), name, str(data.get("subscription_id", "")), moment)
    return Envelope(message_id, name, version, occurred_at, source.split(".", 1)[0], _json_ready(data))


def encode(envelope: Envelope) -> bytes:
    document = {
        "message_id": envelope.message_id,
        "type": envelope.event_type,
        "version": envelope.version,
        "occurred_at": envelope.occurred_at.isoformat(),
        "producer": envelope.producer,
        "payload": envelope.payload,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def decode(body: bytes) -> Envelope:
    """The envelope in `body`; unknown fields are ignored, a missing or ill-typed required field is refused."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MalformedMessage("body", "Le corps du message n'est pas du JSON valide.") from None
    if not isinstance(document, dict):
        raise MalformedMessage("body", "Le corps du message doit être un objet JSON.")
    payload = _required(document, "payload", dict)
    return Envelope(
        message_id=_required(document, "message_id", str),
        event_type=_required(document, "type", str),
        version=_required(document, "version", int),
        occurred_at=parse_moment(_required(document, "occurred_at", str), "occurred_at"),
        producer=_required(document, "producer", str),
        payload=payload,
    )


def parse_moment(text: str, field_name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedMessage(field_name, f"« {field_name} » n'est pas une date ISO 8601.") from None
    if moment.tzinfo is None:
        raise MalformedMessage(field_name, f"« {field_name} » doit porter son fuseau horaire.")
    return moment


def _required(document: Mapping[str, Any], name: str, kind: type) -> Any:
    value = document.get(name)
    if value is None:
        raise MalformedMessage(name, f"Champ obligatoire absent : « {name} ».")
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MalformedMessage(name, f"Le champ « {name} » n'a pas le type attendu ({kind.__name__}).")
    return value


def _json_ready(data: Mapping[str, Any]) -> dict[str, Any]:
    """The payload as it will read back from JSON (tuples become lists), so an envelope equals its round trip."""
    loaded: dict[str, Any] = json.loads(json.dumps(data))
    return loaded


def topic_matches(binding_key: str, routing_key: str) -> bool:
    """AMQP topic matching, as RabbitMQ does it: words split on dots, `*` is one word, `#` zero or more."""
    return _match(binding_key.split("."), routing_key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[skip:]) for skip in range(len(words) + 1))
    if not words:
        return False
    return (head in {"*", words[0]}) and _match(rest, words[1:])
