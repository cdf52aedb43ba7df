"""The ticketing port, provider-neutral: what the platform asks of any ticketing service, in the insurer's words.

The platform opens a ticket for a customer (a call or an email logged by customer service, a question the support
assistant escalates to a person), adds comments to it (a reply the customer reads, or an internal note), moves its
status and reads the status back. The vocabulary is the built-in ticketing's (`souscription.tickets`): a ticket is
open, routed to a department, or solved; a unit test keeps the two lists equal.

Every write takes the caller's `key` (derived from the dossier or ticket and the step) and is idempotent: the same
call made twice leaves the service as one call would. A ticket is known to the service by our `reference` (its
external id), so the platform never needs to store the vendor's id to find it again.

Pure: no HTTP library, no Django. The records check their own data before anything is sent, so a missing subject or
a wrong email is refused here with a French message, not by the vendor."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class TicketStatus(StrEnum):
    """Our ticket's status, the same words as `souscription.tickets.models.Ticket.Status`."""

    OPEN = "open"
    ROUTED = "routed"
    """Transmis à un département: waiting for someone other than the customer and the agent."""
    SOLVED = "solved"


class TicketPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class CommentVisibility(StrEnum):
    PUBLIC = "public"
    """The customer reads it (and is notified)."""
    INTERNAL = "internal"
    """A note between staff: the customer never sees it."""


class InvalidTicket(ValueError):
    """A request the platform must not send: the caller's data is wrong, the ticketing service was not called."""

    def __init__(self, code: str, message: str, field: str) -> None:
        self.code, self.field = code, field
        super().__init__(message)


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$")
_TAG = re.compile(r"^\w[\w./:-]{0,79}$")


def normalised_tag(tag: str) -> str:
    """Ticketing services compare tags without case and refuse spaces inside one tag: `Santé Dossier` would be
    split in two, so spaces become underscores here, where the caller can still see the result."""
    return "_".join(tag.strip().lower().split())


@dataclass(frozen=True)
class Requester:
    """The customer the ticket is for; the service finds or creates its user by email."""

    name: str
    email: str

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidTicket("requester_name_missing", "Le nom du client est obligatoire.", "requester.name")
        if not _EMAIL.match(self.email.strip()):
            raise InvalidTicket(
                "requester_email_invalid",
                "L'adresse e-mail du client est invalide : elle s'écrit nom@domaine.fr.",
                "requester.email",
            )


@dataclass(frozen=True)
class NewTicket:
    """A ticket to open. `reference` is ours (the built-in ticket's id, or `<dossier>:<motif>`): one reference is
    one ticket at the service, which is how a replayed step finds the ticket it already opened."""

    reference: str
    subject: str
    body: str
    """The first message, public: the customer receives it."""
    requester: Requester
    tags: tuple[str, ...] = ()
    priority: TicketPriority = TicketPriority.NORMAL

    def __post_init__(self) -> None:
        if not _REFERENCE.match(self.reference):
            raise InvalidTicket(
                "reference_invalid",
                "La référence du ticket est invalide : lettres, chiffres et « . _ : - », 255 caractères au plus.",
                "reference",
            )
        if not self.subject.strip():
            raise InvalidTicket("subject_missing", "L'objet du ticket est obligatoire.", "subject")
        if not self.body.strip():
            raise InvalidTicket("body_missing", "Le premier message du ticket est obligatoire.", "body")
        for tag in self.tags:
            if not _TAG.match(normalised_tag(tag)):
                raise InvalidTicket(
                    "tag_invalid",
                    f"L'étiquette « {tag} » est invalide : lettres, chiffres et « _ . / : - », 80 caractères au plus.",
                    "tags",
                )


@dataclass(frozen=True)
class RemoteTicket:
    """A ticket as the ticketing service holds it, read back."""

    ticket_id: str
    """The service's id (Zendesk's is a number, kept as text so the port stays provider-neutral)."""
    reference: str | None
    """Our reference, None for a ticket the platform did not open."""
    status: TicketStatus
    vendor_status: str
    """The service's own word (`pending`, `closed`...), for the ops screens: ours is coarser."""
    priority: TicketPriority
    updated_at: datetime


@dataclass(frozen=True)
class TicketStatusChanged:
    """A verified webhook: an agent (or the service's automations) changed a ticket."""

    event_id: str
    """De-duplication key: the same change delivered twice has the same id."""
    ticket_id: str
    reference: str | None
    status: TicketStatus
    vendor_status: str
    updated_at: datetime
    """Deliveries may come out of order: a consumer keeps the change with the latest `updated_at`."""


class TicketingPort(Protocol):
    """What the platform asks of a ticketing service. Errors are `VendorUnavailable` (transient: the step parks and
    resumes) and `VendorRejected` (permanent: a person looks), from `souscription.integrations.errors`."""

    def open_ticket(self, ticket: NewTicket, *, key: str) -> RemoteTicket:
        """Open the ticket, or return the one already opened under the same reference."""
        ...

    def add_comment(self, ticket_id: str, *, body: str, visibility: CommentVisibility, key: str) -> RemoteTicket:
        """Add a reply (public) or an internal note, once per key."""
        ...

    def change_status(self, ticket_id: str, *, status: TicketStatus, key: str) -> RemoteTicket:
        """Move the ticket to `status`, once per key (a replay never undoes an agent's later change)."""
        ...

    def ticket_status(self, ticket_id: str) -> RemoteTicket:
        """Read the ticket back."""
        ...

    def find_ticket(self, reference: str) -> RemoteTicket | None:
        """The ticket opened under our reference, or None."""
        ...

    def erase_ticket(self, ticket_id: str, *, key: str) -> None:
        """Delete the ticket and its comments for good (GDPR erasure, retention); a ticket already gone is done."""
        ...

    def read_webhook(self, headers: Mapping[str, str], body: bytes, now: datetime) -> TicketStatusChanged:
        """The change a genuine notification of the service carries; `WebhookRejected` for anything else."""
        ...
