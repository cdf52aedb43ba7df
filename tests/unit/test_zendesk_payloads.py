"""What the Zendesk adapter sends and how it reads answers, without a network: payloads, markers, errors."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime

import httpx
import pytest

from souscription.integrations.ticketing.port import (
    InvalidTicket,
    NewTicket,
    Requester,
    TicketPriority,
    TicketStatus,
    normalised_tag,
)
from souscription.integrations.ticketing.zendesk import (
    basic_authorization,
    marker_tag,
    remote_ticket,
    ticket_payload,
    update_payload,
    zendesk_error_code,
)
from souscription.integrations.ticketing.zendesk_states import UnknownZendeskValue


def new_ticket(**overrides: object) -> NewTicket:
    fields: dict[str, object] = {
        "reference": "TCK-0c1f",
        "subject": "Question sur mon contrat",
        "body": "Bonjour, je voudrais savoir…",
        "requester": Requester(name="Camille Martin", email="Camille.Martin@exemple.fr "),
        "tags": ("Santé Dossier", "souscription", "souscription"),
        "priority": TicketPriority.HIGH,
    }
    fields.update(overrides)
    return NewTicket(**fields)  # type: ignore[arg-type]


def test_a_new_ticket_is_sent_in_zendesks_create_shape() -> None:
    assert ticket_payload(new_ticket()) == {
        "ticket": {
            "subject": "Question sur mon contrat",
            "comment": {"body": "Bonjour, je voudrais savoir…", "public": True},
            "requester": {"name": "Camille Martin", "email": "camille.martin@exemple.fr"},
            "external_id": "TCK-0c1f",
            "tags": ["santé_dossier", "souscription"],
            "priority": "high",
        }
    }


def test_the_create_payload_is_the_same_every_time_so_the_idempotency_key_replays() -> None:
    assert ticket_payload(new_ticket()) == ticket_payload(new_ticket())


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"reference": ""}, "reference_invalid"),
        ({"reference": "avec espace"}, "reference_invalid"),
        ({"subject": "  "}, "subject_missing"),
        ({"body": ""}, "body_missing"),
        ({"tags": ("ok", "!!")}, "tag_invalid"),
    ],
)
def test_a_ticket_the_vendor_would_refuse_is_refused_before_sending(overrides: dict[str, object], code: str) -> None:
    with pytest.raises(InvalidTicket) as refused:
        new_ticket(**overrides)
    assert refused.value.code == code


@pytest.mark.parametrize(
    ("name", "email", "code"),
    [("", "a@b.fr", "requester_name_missing"), ("Camille", "camille@", "requester_email_invalid")],
)
def test_the_requester_needs_a_name_and_an_email(name: str, email: str, code: str) -> None:
    with pytest.raises(InvalidTicket) as refused:
        Requester(name=name, email=email)
    assert refused.value.code == code


def test_tags_are_lowercase_with_underscores_for_spaces() -> None:
    assert normalised_tag("  Résiliation  Demandée ") == "résiliation_demandée"


def test_the_marker_is_a_valid_tag_stable_per_key_and_hides_the_key() -> None:
    marker = marker_tag("dossier:8a1f…:ticket-ouvert")
    assert marker == marker_tag("dossier:8a1f…:ticket-ouvert")
    assert marker != marker_tag("dossier:8a1f…:ticket-clos")
    assert re.fullmatch(r"souscription_[0-9a-f]{24}", marker)
    assert "8a1f" not in marker


def test_an_update_keeps_the_tickets_tags_adds_the_marker_and_is_a_safe_update() -> None:
    current = {"tags": ["vip", "souscription"], "updated_at": "2026-11-03T09:29:38Z"}
    payload = update_payload({"status": "solved"}, current=current, key="k1")
    assert payload == {
        "ticket": {
            "status": "solved",
            "tags": ["vip", "souscription", marker_tag("k1")],
            "updated_stamp": "2026-11-03T09:29:38Z",
            "safe_update": True,
        }
    }


def test_api_token_authentication_is_basic_with_email_slash_token() -> None:
    header = basic_authorization("agent@assureur.fr", "s3cr3t")
    assert base64.b64decode(header.removeprefix("Basic ")) == b"agent@assureur.fr/token:s3cr3t"


def test_a_zendesk_ticket_reads_as_ours() -> None:
    ticket = {
        "id": 35436,
        "external_id": "TCK-0c1f",
        "status": "hold",
        "priority": None,
        "updated_at": "2026-11-03T09:29:38Z",
    }
    remote = remote_ticket(ticket)
    assert remote.ticket_id == "35436"
    assert remote.reference == "TCK-0c1f"
    assert remote.status is TicketStatus.ROUTED
    assert remote.vendor_status == "hold"
    assert remote.priority is TicketPriority.NORMAL
    assert remote.updated_at == datetime(2026, 11, 3, 9, 29, 38, tzinfo=UTC)


def test_a_ticket_in_an_unknown_status_is_not_read_silently() -> None:
    with pytest.raises(UnknownZendeskValue):
        remote_ticket({"id": 1, "status": "archived", "priority": "low", "updated_at": "2026-11-03T09:29:38Z"})


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (422, {"error": "RecordInvalid", "description": "Record validation errors", "details": {}}, "RecordInvalid"),
        (401, {"error": "Couldn't authenticate you"}, "Couldn't authenticate you"),
        (404, {"error": "RecordNotFound", "description": "Not found"}, "RecordNotFound"),
        (403, {"error": {"title": "Forbidden", "message": "You do not have access"}}, "Forbidden"),
    ],
)
def test_the_vendor_code_is_zendesks_error_word(status: int, body: dict[str, object], code: str) -> None:
    assert zendesk_error_code(httpx.Response(status, json=body)) == code


def test_a_plain_text_rate_limit_answer_has_no_code() -> None:
    response = httpx.Response(429, text="Number of allowed API requests per minute exceeded")
    assert zendesk_error_code(response) == ""
