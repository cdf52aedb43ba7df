from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "souscription.billing"
    label = "billing"
    verbose_name = "Facturation"
