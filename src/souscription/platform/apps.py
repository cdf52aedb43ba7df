from django.apps import AppConfig


class PlatformConfig(AppConfig):
    name = "souscription.platform"
    label = "platform"
    verbose_name = "Plateforme"
