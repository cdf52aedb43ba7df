"""Legal's slice (seed 004), physically apart in the `legal` database: health answers, the underwriting tasks,
investigation reports, risk estimates, contract copies and their signature."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from souscription.platform.encryption.store import DataKeyBase


class InvestigationReport(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer_id = models.UUIDField(_("client"), db_index=True)
    subscription_id = models.CharField(_("souscription"), max_length=20, blank=True, db_index=True)
    author_id = models.BigIntegerField(_("enquêteur"))
    findings = models.TextField(_("conclusions"))
    written_at = models.DateTimeField(_("rédigé le"))

    class Meta:
        verbose_name = _("rapport d'enquête")
        ordering = ("-written_at",)

    def __str__(self) -> str:
        return f"Rapport du {self.written_at:%d/%m/%Y}"


class HealthDeclaration(models.Model):
    """The health questionnaire of a dossier, one row per submission (never overwritten: decisions cite a row).

    The answers are one JSON object sealed with the dossier's data key (`services.declare_health`), bound to this
    table, this row and this field: the database never holds a health value in the clear."""

    id = models.UUIDField(primary_key=True, editable=False)
    subscription_id = models.CharField(_("souscription"), max_length=20, db_index=True)
    answers_sealed = models.TextField(_("réponses de santé (chiffrées)"))
    declared_at = models.DateTimeField(_("déclaré le"))

    class Meta:
        verbose_name = _("déclaration de santé")
        ordering = ("-declared_at",)

    def __str__(self) -> str:
        return f"{self.subscription_id} · {self.declared_at:%d/%m/%Y %H:%M}"


class UnderwritingTask(models.Model):
    """A piece of underwriting work assigned to a role, visible in that role's queue until done."""

    class Kind(models.TextChoices):
        INVESTIGATION = "investigation", _("Enquête")
        ESTIMATION = "estimation", _("Estimation du risque")
        CONTRACT = "contract", _("Rédaction du contrat")

    class Status(models.TextChoices):
        OPEN = "open", _("À faire")
        DONE = "done", _("Faite")
        CANCELLED = "cancelled", _("Annulée")

    id = models.UUIDField(primary_key=True, editable=False)
    subscription_id = models.CharField(_("souscription"), max_length=20, db_index=True)
    kind = models.CharField(_("nature"), max_length=16, choices=Kind.choices)
    role = models.CharField(_("rôle"), max_length=32, db_index=True)
    status = models.CharField(_("statut"), max_length=10, choices=Status.choices, default=Status.OPEN)
    reasons = models.JSONField(_("motifs"), default=list)
    due_on = models.DateField(_("échéance"))
    opened_at = models.DateTimeField(_("ouverte le"))
    closed_at = models.DateTimeField(_("close le"), null=True, blank=True)
    closed_by = models.BigIntegerField(_("close par"), null=True, blank=True)

    class Meta:
        verbose_name = _("tâche de souscription")
        ordering = ("due_on", "opened_at")
        indexes = [models.Index(fields=["role", "status", "due_on"], name="task_queue")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.subscription_id}"


class RiskEstimate(models.Model):
    class Decision(models.TextChoices):
        APPROVE = "approve", _("Accepter")
        REQUEST_INFORMATION = "request_information", _("Demander des informations")
        DECLINE = "decline", _("Refuser (réexaminable)")
        REJECT = "reject", _("Rejeter définitivement")

    id = models.UUIDField(primary_key=True, editable=False)
    subscription_id = models.CharField(_("souscription"), max_length=20, db_index=True)
    estimator_id = models.BigIntegerField(_("estimateur"))
    risk_class = models.CharField(_("classe de risque"), max_length=16)
    premium_adjustment_pct = models.IntegerField(_("ajustement de prime (%)"))
    exclusions = models.JSONField(_("exclusions"), default=list)
    decision = models.CharField(_("décision"), max_length=24, choices=Decision.choices)
    note = models.TextField(_("motivation"))
    decided_at = models.DateTimeField(_("décidé le"))
    # The outbox of the `apply_estimate` workflow: set with the estimate, cleared once the workflow runs; if the
    # estimateur's request died in between, the platform's sweeper starts it.
    workflow_due = models.BooleanField(default=False, db_index=True)

    class Meta:
        verbose_name = _("estimation du risque")
        ordering = ("-decided_at",)

    def __str__(self) -> str:
        return f"{self.subscription_id} · {self.get_decision_display()}"


class ContractCopy(models.Model):
    """A contract document of a dossier: the drafted copy, then the signed one (PAdES), both kept."""

    class Kind(models.TextChoices):
        DRAFTED = "drafted", _("Rédigé")
        SIGNED = "signed", _("Signé")

    id = models.UUIDField(primary_key=True, editable=False)
    subscription_id = models.CharField(_("souscription"), max_length=20, db_index=True)
    kind = models.CharField(_("nature"), max_length=8, choices=Kind.choices)
    pdf = models.BinaryField(_("document PDF"))
    sha256 = models.CharField(max_length=64)
    drafted_by = models.CharField(_("rédigé par"), max_length=32)
    created_at = models.DateTimeField(_("créé le"))

    class Meta:
        verbose_name = _("exemplaire du contrat")
        ordering = ("-created_at",)
        constraints = [models.UniqueConstraint(fields=["subscription_id", "kind"], name="one_copy_per_kind")]

    def __str__(self) -> str:
        return f"{self.subscription_id} · {self.get_kind_display()}"


class DecisionTrace(models.Model):
    """A health product's decision (eligibility, pricing, referral) with what it fired: its result names the
    factors and reasons the health answers triggered ("Tabac déclaré."), so it is Legal's. The platform's
    `DecisionRecord` of the same id keeps the rule set and the inputs without health answers, and cites this row."""

    id = models.UUIDField(primary_key=True, editable=False)
    subscription_id = models.CharField(_("souscription"), max_length=20, db_index=True)
    revision = models.PositiveIntegerField(_("révision"))
    name = models.CharField(_("décision"), max_length=32)
    rule_set = models.CharField(_("jeu de règles"), max_length=120)
    result = models.JSONField(_("résultat"))
    fired = models.JSONField(_("règles déclenchées"), default=list)
    decided_at = models.DateTimeField(_("décidé le"))

    class Meta:
        verbose_name = _("trace de décision (produit santé)")
        ordering = ("decided_at",)

    def __str__(self) -> str:
        return f"{self.subscription_id} r{self.revision} · {self.name}"


class OfferCopy(models.Model):
    """A health product's offer as the applicant reads it: the detailed breakdown (its factors reveal health
    answers) and the PDF. Sales keeps the offer's totals only."""

    id = models.UUIDField(primary_key=True, editable=False)  # the offer's id in Sales
    subscription_id = models.CharField(_("souscription"), max_length=20, db_index=True)
    breakdown = models.JSONField(_("détail du tarif"))
    pdf = models.BinaryField(_("document PDF"))
    created_at = models.DateTimeField(_("créé le"))

    class Meta:
        verbose_name = _("offre détaillée (produit santé)")
        ordering = ("created_at",)

    def __str__(self) -> str:
        return f"{self.subscription_id} · {self.id}"


class DataKey(DataKeyBase):
    """The data keys of Legal's encrypted fields, one per dossier, kept in Legal's database beside its data."""

    class Meta:
        verbose_name = _("clé de données")
