"""Billing's slice (seed 004), in the `billing` database: invoices and their history for now."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class Invoice(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Brouillon")
        VALIDATED = "validated", _("Validée")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.CharField(_("numéro"), max_length=32, unique=True)
    customer_id = models.UUIDField(_("client"), db_index=True)
    amount_cents = models.PositiveBigIntegerField(_("montant TTC (centimes)"))
    currency = models.CharField(max_length=3, default="EUR")
    status = models.CharField(_("statut"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    drafted_by = models.BigIntegerField(_("rédigée par"))
    issued_on = models.DateField(_("émise le"))

    class Meta:
        verbose_name = _("facture")
        ordering = ("-issued_on", "number")

    def __str__(self) -> str:
        return self.number
