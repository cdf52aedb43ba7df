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
