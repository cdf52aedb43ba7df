"""Zendesk's statuses and priorities read as ours, one explicit row per Zendesk word; an unknown word is refused."""

from __future__ import annotations

import pytest

from souscription.integrations.ticketing.port import TicketPriority, TicketStatus
from souscription.integrations.ticketing.zendesk_states import (
    PRIORITY_FROM_ZENDESK,
    PRIORITY_TO_ZENDESK,
    STATUS_FROM_ZENDESK,
    STATUS_TO_ZENDESK,
    UnknownZendeskValue,
    priority_from_zendesk,
    status_from_zendesk,
)


@pytest.mark.parametrize(
    ("zendesk", "ours"),
    [
        ("new", TicketStatus.OPEN),
        ("open", TicketStatus.OPEN),
        ("pending", TicketStatus.OPEN),
        ("hold", TicketStatus.ROUTED),
        ("solved", TicketStatus.SOLVED),
        ("closed", TicketStatus.SOLVED),
    ],
)
def test_each_zendesk_status_reads_as_one_of_ours(zendesk: str, ours: TicketStatus) -> None:
    assert status_from_zendesk(zendesk) is ours


def test_the_status_table_covers_the_six_zendesk_statuses_and_nothing_else() -> None:
    assert set(STATUS_FROM_ZENDESK) == {"new", "open", "pending", "hold", "solved", "closed"}


@pytest.mark.parametrize("word", ["deleted", "Open", "", None, 3])
def test_an_unknown_zendesk_status_is_refused_not_guessed(word: object) -> None:
    with pytest.raises(UnknownZendeskValue) as refused:
        status_from_zendesk(word)
    assert refused.value.field == "status"


@pytest.mark.parametrize(
    ("ours", "zendesk"),
    [(TicketStatus.OPEN, "open"), (TicketStatus.ROUTED, "hold"), (TicketStatus.SOLVED, "solved")],
)
def test_each_of_our_statuses_is_set_as_a_zendesk_status_that_reads_back_the_same(
    ours: TicketStatus, zendesk: str
) -> None:
    assert STATUS_TO_ZENDESK[ours] == zendesk
    assert status_from_zendesk(zendesk) is ours


def test_the_platform_never_sets_new_or_closed() -> None:
    assert set(STATUS_TO_ZENDESK) == set(TicketStatus)
    assert not {"new", "closed"} & set(STATUS_TO_ZENDESK.values())


def test_the_port_speaks_the_built_in_ticketings_statuses() -> None:
    from souscription.tickets.models import Ticket

    assert {status.value for status in TicketStatus} == set(Ticket.Status.values)


@pytest.mark.parametrize(
    ("zendesk", "ours"),
    [
        (None, TicketPriority.NORMAL),
        ("low", TicketPriority.LOW),
        ("normal", TicketPriority.NORMAL),
        ("high", TicketPriority.HIGH),
        ("urgent", TicketPriority.URGENT),
    ],
)
def test_each_zendesk_priority_reads_as_ours_an_unset_one_as_normal(zendesk: str | None, ours: TicketPriority) -> None:
    assert priority_from_zendesk(zendesk) is ours


def test_priorities_round_trip() -> None:
    assert set(PRIORITY_TO_ZENDESK) == set(TicketPriority)
    for ours, zendesk in PRIORITY_TO_ZENDESK.items():
        assert PRIORITY_FROM_ZENDESK[zendesk] is ours


@pytest.mark.parametrize("word", ["critical", "High", 1])
def test_an_unknown_zendesk_priority_is_refused(word: object) -> None:
    with pytest.raises(UnknownZendeskValue):
        priority_from_zendesk(word)
