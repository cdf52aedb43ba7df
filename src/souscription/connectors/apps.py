from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "souscription.connectors"
    label = "connectors"
    verbose_name = "Connecteurs"
