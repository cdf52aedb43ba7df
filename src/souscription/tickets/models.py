"""Every call and email logged as a ticket (seed 003, "Répondre à un client"): motif, date, operator actions."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class Ticket(models.Model):
    class Channel(models.TextChoices):
        CALL = "call", _("Appel")
        EMAIL = "email", _("E-mail")
        PLATFORM = "platform", _("Plateforme")

    class Status(models.TextChoices):
        OPEN = "open", _("Ouvert")
        ROUTED = "routed", _("Transmis à un département")
        SOLVED = "solved", _("Résolu")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # A plain id, not a foreign key: the ticketing service only knows customers by their id (seed 004).
    customer_id = models.UUIDField(_("client"), db_index=True)
    channel = models.CharField(_("canal"), max_length=8, choices=Channel.choices)
    reason = models.CharField(_("motif"), max_length=200)
    status = models.CharField(_("statut"), max_length=8, choices=Status.choices, default=Status.OPEN)
    routed_to = models.CharField(_("département destinataire"), max_length=32, blank=True)
    opened_at = models.DateTimeField(_("ouvert le"))
    # The same ticket at the ticketing service (Zendesk), when configuration gives it one, and when its status
    # there was last applied (its webhooks come out of order).
    vendor_ticket_id = models.CharField(max_length=32, blank=True, db_index=True)
    vendor_status_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("ticket")
        ordering = ("-opened_at",)

    def __str__(self) -> str:
        return f"{self.get_channel_display()} · {self.reason}"


class TicketAction(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="actions")
    operator_id = models.BigIntegerField(_("opérateur"))
    description = models.TextField(_("action"))
    at = models.DateTimeField(_("le"))

    class Meta:
        ordering = ("at",)

    def __str__(self) -> str:
        return self.description[:80]


class VendorErasure(models.Model):
    """A ticket erased here (GDPR erasure, retention) whose copy at the ticketing service is still to be erased.

    Written in the transaction that deletes the ticket, so neither can happen without the other; removed once the
    service has scrubbed its copy (`subscriptions.follow_up.erase_at_vendor`, a durable vendor call). It holds the
    service's ticket number only: nothing of the person."""

    vendor_ticket_id = models.CharField(max_length=32, unique=True)
    asked_at = models.DateTimeField()
    reason = models.CharField(max_length=64)
    # When its workflow was started: the sweep starts each one once, so erasures waiting for the service (parked,
    # or dead-lettered for a person to look at) never hold newer ones back.
    started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("asked_at", "id")

    def __str__(self) -> str:
        return f"ticket {self.vendor_ticket_id} à effacer chez le service de tickets"
