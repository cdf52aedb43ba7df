"""The dossier as the platform keeps it (database `default`): its stage, side statuses and references.

The dossier holds references, not copies (seed 004): the answers live in each department's database under the
subscription id (contact data with customer service, the risk with Sales, health answers with Legal, bank
details with Billing). Decisions keep their trace here, with the health inputs cited by reference."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class SubscriptionSequence(models.Model):
    """The last number given in a year, for `SUB-YYYY-NNNNNN` identifiers without gaps or duplicates."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class Dossier(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subscription_id = models.CharField(_("souscription"), max_length=20, unique=True)
    product = models.CharField(_("produit"), max_length=64)
    product_version = models.CharField(_("version du produit"), max_length=32)
    stage = models.CharField(_("étape"), max_length=20, db_index=True)
    revision = models.PositiveIntegerField(_("révision"), default=0)
    referred = models.BooleanField(default=False)
    customer_id = models.UUIDField(_("client"), null=True, blank=True)
    answered_fields = models.JSONField(_("champs renseignés"), default=list)
    offer_id = models.UUIDField(_("offre"), null=True, blank=True)
    premium_cents = models.PositiveBigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, default="EUR")
    offer_valid_until = models.DateTimeField(null=True, blank=True)
    exclusions = models.JSONField(default=list)
    information_requested = models.TextField(blank=True)
    closing_reason = models.TextField(blank=True)
    crm_status = models.CharField(max_length=16, default="lead")
    # With a vendor CRM: the deal's id there (its webhooks name it) and when its last move we applied happened
    # (deliveries come out of order: an older move never overwrites a newer one).
    crm_deal_id = models.CharField(max_length=64, blank=True, db_index=True)
    crm_status_at = models.DateTimeField(null=True, blank=True)
    signature_status = models.CharField(max_length=16, default="none")
    # The e-signature vendor's request (empty with the embedded signature) and when its last state was applied.
    signature_request_id = models.CharField(max_length=64, blank=True, db_index=True)
    signature_status_at = models.DateTimeField(null=True, blank=True)
    mandate_status = models.CharField(max_length=16, default="none")
    invoice_status = models.CharField(max_length=16, default="none")
    payment_status = models.CharField(max_length=16, default="none")
    erp_sync = models.CharField(max_length=16, default="none")
    invoice_id = models.UUIDField(null=True, blank=True)
    created_by = models.BigIntegerField(null=True, blank=True)
    # The partner whose API key opened the dossier: only that partner reaches it with its keys.
    partner_id = models.UUIDField(_("partenaire"), null=True, blank=True, db_index=True)
    # The portal customer account that opened the dossier: it acts on it with its session, as the applicant.
    customer_account_id = models.BigIntegerField(_("compte client"), null=True, blank=True, db_index=True)
    # The applicant's bearer token (shown once at creation), kept as a SHA-256 digest only.
    applicant_token_sha256 = models.CharField(max_length=64, blank=True)
    # The (keyed digest of the) Idempotency-Key of the request that opened it, committed with the dossier: a retry
    # after the process died between the two finds this dossier instead of opening another.
    opened_with = models.CharField(max_length=64, null=True, blank=True, unique=True)
    # The revision whose answers are complete and wait for their quote workflow: set with the step that completed
    # them, cleared by the workflow's first step. If the process dies between the two, the sweeper starts it.
    decision_due = models.PositiveIntegerField(null=True, blank=True, db_index=True)
    # The same for the acceptance: the revision whose accepted offer waits for its `conclude` workflow.
    conclusion_due = models.PositiveIntegerField(null=True, blank=True, db_index=True)
    # And for the withdrawal: the revision withdrawn, whose `after_withdrawal` workflow (open tasks cancelled, the
    # vendor's signature request too) has not yet run.
    withdrawal_due = models.PositiveIntegerField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("dossier de souscription")
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return self.subscription_id


class DossierEvent(models.Model):
    """Every domain event a dossier emitted, in order (names and non-personal data only)."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="events")
    name = models.CharField(max_length=80)
    version = models.PositiveSmallIntegerField()
    payload = models.JSONField()
    occurred_at = models.DateTimeField()
    # The outbox: set once the event bus confirmed the event (`outbox.relay_once`).
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return self.name


class DecisionRecord(models.Model):
    """A business decision with its trace: rule set and version, rows fired, inputs seen.

    Health answers are not copied here: `health_declaration_id` cites the row in Legal's database that the
    decision saw, so the trace is complete for whoever may read health data and leaks nothing to others."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="decisions")
    revision = models.PositiveIntegerField()
    name = models.CharField(max_length=16)
    rule_set = models.CharField(max_length=120)
    result = models.JSONField()
    fired = models.JSONField()
    inputs = models.JSONField()
    health_declaration_id = models.UUIDField(null=True, blank=True)
    # A health product's result and fired rows reveal health answers: Legal keeps them (`DecisionTrace` of this id),
    # and `result` and `fired` stay empty here.
    legal_trace_id = models.UUIDField(null=True, blank=True)
    decided_at = models.DateTimeField()

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.name} · {self.rule_set}"


class SignatureChallenge(models.Model):
    """A one-time code sent to the applicant to confirm their signature (the embedded e-signature's consent).

    Only a keyed hash of the code is kept: six digits are a small space, so a plain hash would be reversed at once
    from a copy of the table; the key is the platform's secret key."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="signature_challenges")
    code_hmac = models.CharField(max_length=64)
    sent_to = models.CharField(_("envoyé à (masqué)"), max_length=254)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.dossier_id} · {self.created_at:%d/%m/%Y %H:%M}"
