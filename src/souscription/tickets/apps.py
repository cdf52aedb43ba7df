from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "souscription.tickets"
    label = "tickets"
    verbose_name = "Ticketing"
