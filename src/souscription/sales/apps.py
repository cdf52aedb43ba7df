from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "souscription.sales"
    label = "sales"
    verbose_name = "Vente"
