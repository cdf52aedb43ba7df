from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "souscription.web"
    label = "web"
    verbose_name = "Interface"
