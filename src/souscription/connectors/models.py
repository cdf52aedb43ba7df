"""Vendor calls that could not be made, and the webhooks already taken in (database `default`)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ParkedCall(models.Model):
    """A vendor call waiting: parked (the vendor is unavailable: retried on its own with backoff, or replayed by
    hand) or dead-lettered (the vendor refused it: a person looks, fixes, then replays). One row per call key."""

    class Status(models.TextChoices):
        PARKED = "parked", _("En attente du fournisseur")
        DEAD = "dead", _("Refusé par le fournisseur")
        RESOLVED = "resolved", _("Résolu")

    key = models.CharField(_("clé d'idempotence"), max_length=160, primary_key=True)
    workflow_id = models.CharField(max_length=200)
    vendor = models.CharField(_("fournisseur"), max_length=32, db_index=True)
    operation = models.CharField(_("opération"), max_length=64)
    subscription_id = models.CharField(_("souscription"), max_length=20, blank=True, db_index=True)
    status = models.CharField(_("statut"), max_length=10, choices=Status.choices, db_index=True)
    reason = models.TextField(_("motif"))
    attempts = models.PositiveIntegerField(_("tentatives"), default=0)
    parked_at = models.DateTimeField(_("en attente depuis"))
    next_attempt_at = models.DateTimeField(_("prochain essai"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("résolu le"), null=True, blank=True)

    class Meta:
        verbose_name = _("appel en attente")
        ordering = ("parked_at",)

    def __str__(self) -> str:
        return f"{self.vendor}.{self.operation} · {self.key}"


class ReceivedWebhook(models.Model):
    """A vendor event taken in once: a redelivery of the same event id is acknowledged and ignored."""

    vendor = models.CharField(max_length=32)
    event_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=80)
    received_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["vendor", "event_id"], name="one_event_per_vendor")]

    def __str__(self) -> str:
        return f"{self.vendor} · {self.event_id}"
