"""Identity and contact data, owned by customer service (seed 004): nom, prénom, mail, téléphone, disponibilité."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class Customer(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    first_name = models.CharField(_("prénom"), max_length=100)
    last_name = models.CharField(_("nom"), max_length=100)
    email = models.EmailField(_("e-mail"), unique=True)
    phone = models.CharField(_("téléphone"), max_length=32, blank=True)
    country = models.CharField(_("pays de résidence"), max_length=2, blank=True)
    # The postal address: the contract and the invoices are addressed to it (and the ERP's partner needs it).
    street = models.CharField(_("adresse"), max_length=128, blank=True)
    postcode = models.CharField(_("code postal"), max_length=10, blank=True)
    city = models.CharField(_("commune"), max_length=64, blank=True)
    availability = models.CharField(_("disponibilité"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("client")
        ordering = ("last_name", "first_name")

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Message(models.Model):
    """A message sent to a customer (a signature code, an email verification link): the embedded default of the
    messaging port is this inbox, which the customer reads in the portal; a mail or SMS vendor comes later (issue 5)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    recipient = models.EmailField(_("destinataire"), db_index=True)
    subject = models.CharField(_("objet"), max_length=200)
    body = models.TextField(_("message"))
    sent_at = models.DateTimeField(_("envoyé le"))

    class Meta:
        verbose_name = _("message au client")
        ordering = ("-sent_at",)

    def __str__(self) -> str:
        return self.subject
