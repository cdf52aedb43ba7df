"""The commercial profile, owned by sales (seed 004): catégorie d'âge, profession, sexe."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class CommercialProfile(models.Model):
    class AgeCategory(models.TextChoices):
        UNDER_26 = "18-25", _("18 à 25 ans")
        FROM_26_TO_40 = "26-40", _("26 à 40 ans")
        FROM_41_TO_60 = "41-60", _("41 à 60 ans")
        OVER_60 = "61+", _("61 ans et plus")

    class Sex(models.TextChoices):
        FEMALE = "F", _("Femme")
        MALE = "M", _("Homme")

    customer_id = models.UUIDField(_("client"), unique=True)
    age_category = models.CharField(_("catégorie d'âge"), max_length=8, choices=AgeCategory.choices)
    profession = models.CharField(_("profession"), max_length=100)
    sex = models.CharField(_("sexe"), max_length=1, choices=Sex.choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("profil commercial")

    def __str__(self) -> str:
        return f"{self.age_category} · {self.profession}"


class DossierProfile(models.Model):
    """What Sales knows of one dossier: the risk described (vehicle, driver, profession, cover, frequency).

    Contact data is customer service's, health answers Legal's, bank details Billing's: none of them is here."""

    subscription_id = models.CharField(_("souscription"), max_length=20, primary_key=True)
    customer_id = models.UUIDField(_("client"), null=True, blank=True, db_index=True)
    product = models.CharField(_("produit"), max_length=64)
    answers = models.JSONField(_("réponses"), default=dict)
    updated_at = models.DateTimeField(_("mis à jour le"))

    class Meta:
        verbose_name = _("profil de souscription")

    def __str__(self) -> str:
        return self.subscription_id


class Offer(models.Model):
    """A priced offer (one per pricing of a dossier revision), with its breakdown and its PDF."""

    class Status(models.TextChoices):
        OFFERED = "offered", _("Proposée")
        ACCEPTED = "accepted", _("Acceptée")
        SUPERSEDED = "superseded", _("Remplacée")

    id = models.UUIDField(primary_key=True, editable=False)
    subscription_id = models.CharField(_("souscription"), max_length=20, db_index=True)
    revision = models.PositiveIntegerField(_("révision du dossier"))
    status = models.CharField(_("statut"), max_length=12, choices=Status.choices, default=Status.OFFERED)
    premium_cents = models.PositiveBigIntegerField(_("prime annuelle TTC (centimes)"))
    instalment_cents = models.PositiveBigIntegerField(_("échéance TTC (centimes)"))
    currency = models.CharField(max_length=3, default="EUR")
    frequency = models.CharField(_("fréquence"), max_length=8)
    breakdown = models.JSONField(_("détail du tarif"))
    valid_until = models.DateTimeField(_("valable jusqu'au"))
    document = models.BinaryField(_("proposition (PDF)"))
    created_at = models.DateTimeField(_("émise le"))

    class Meta:
        verbose_name = _("offre")
        ordering = ("-created_at",)
        constraints = [models.UniqueConstraint(fields=["subscription_id", "revision"], name="one_offer_per_revision")]

    def __str__(self) -> str:
        return f"{self.subscription_id} r{self.revision}"
