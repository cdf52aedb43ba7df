"""Billing's slice (seed 004), in the `billing` database: invoices, bank details, mandates, the ledger."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from souscription.platform.encryption.store import DataKeyBase


class Invoice(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Brouillon")
        VALIDATED = "validated", _("Validée")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.CharField(_("numéro"), max_length=32, unique=True)
    customer_id = models.UUIDField(_("client"), db_index=True)
    subscription_id = models.CharField(_("souscription"), max_length=20, blank=True, db_index=True)
    amount_cents = models.PositiveBigIntegerField(_("montant TTC (centimes)"))
    currency = models.CharField(max_length=3, default="EUR")
    status = models.CharField(_("statut"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    # None: drafted by the platform itself (the first invoice of a contract); any accountant may then validate.
    drafted_by = models.BigIntegerField(_("rédigée par"), null=True, blank=True)
    validated_by = models.BigIntegerField(_("validée par"), null=True, blank=True)
    validated_at = models.DateTimeField(_("validée le"), null=True, blank=True)
    issued_on = models.DateField(_("émise le"))
    # The provider's debit of this invoice, its status there and when that status was given (webhooks come late).
    vendor_payment_id = models.CharField(max_length=64, blank=True, db_index=True)
    payment_status = models.CharField(max_length=16, blank=True)
    payment_status_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("facture")
        ordering = ("-issued_on", "number")

    def __str__(self) -> str:
        return self.number


class BankAccount(models.Model):
    """The account to debit; its IBAN sealed with the dossier's data key, only the last four characters in clear."""

    id = models.UUIDField(primary_key=True, editable=False)
    customer_id = models.UUIDField(_("client"), null=True, blank=True, db_index=True)
    subscription_id = models.CharField(_("souscription"), max_length=20, unique=True)
    holder = models.CharField(_("titulaire"), max_length=140)
    iban_sealed = models.TextField(_("IBAN (chiffré)"))
    iban_last4 = models.CharField(_("IBAN (4 derniers caractères)"), max_length=4)
    bic = models.CharField(_("BIC"), max_length=11, blank=True)
    updated_at = models.DateTimeField(_("mis à jour le"))

    class Meta:
        verbose_name = _("compte bancaire")

    def __str__(self) -> str:
        return f"{self.holder} · ****{self.iban_last4}"


class Mandate(models.Model):
    """A SEPA Direct Debit mandate (CORE scheme), identified by its unique mandate reference (RUM)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Actif")
        CANCELLED = "cancelled", _("Annulé")

    id = models.UUIDField(primary_key=True, editable=False)
    reference = models.CharField(_("référence unique de mandat"), max_length=35, unique=True)
    subscription_id = models.CharField(_("souscription"), max_length=20, unique=True)
    customer_id = models.UUIDField(_("client"), null=True, blank=True)
    holder = models.CharField(_("débiteur"), max_length=140)
    iban_sealed = models.TextField(_("IBAN (chiffré)"))
    iban_last4 = models.CharField(_("IBAN (4 derniers caractères)"), max_length=4)
    bic = models.CharField(_("BIC"), max_length=11, blank=True)
    status = models.CharField(_("statut"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    signed_on = models.DateField(_("signé le"))
    # The payment provider's objects for this mandate (empty with the embedded direct debit) and its state there.
    vendor_customer_id = models.CharField(max_length=64, blank=True)
    vendor_payment_method_id = models.CharField(max_length=64, blank=True)
    vendor_mandate_id = models.CharField(max_length=64, blank=True, db_index=True)
    vendor_status = models.CharField(max_length=16, blank=True)

    class Meta:
        verbose_name = _("mandat SEPA")

    def __str__(self) -> str:
        return self.reference


class LedgerEntry(models.Model):
    """The embedded ERP: one balanced journal entry per posted invoice (sales journal), exportable."""

    id = models.UUIDField(primary_key=True, editable=False)
    invoice_number = models.CharField(_("facture"), max_length=32, unique=True)
    journal = models.CharField(_("journal"), max_length=8)
    entry_date = models.DateField(_("date d'écriture"))
    lines = models.JSONField(_("lignes"))
    posted_at = models.DateTimeField(_("comptabilisée le"))

    class Meta:
        verbose_name = _("écriture comptable")
        ordering = ("-entry_date", "invoice_number")

    def __str__(self) -> str:
        return f"{self.journal} {self.invoice_number}"


class DataKey(DataKeyBase):
    """The data keys of Billing's encrypted fields, one per dossier, kept in Billing's database beside its data."""

    class Meta:
        verbose_name = _("clé de données")
