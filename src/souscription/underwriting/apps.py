from django.apps import AppConfig


class UnderwritingConfig(AppConfig):
    name = "souscription.underwriting"
    label = "underwriting"
    verbose_name = "Légal : enquête, estimation, contrat"
