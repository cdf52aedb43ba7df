"""`souscription migrate`: Django's migrate, applied to every database when none is named.

Each department's tables only land in its own database (the router decides), so migrating "everything" means
running Django's migrate once per database.
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import CommandParser
from django.core.management.commands import migrate as django_migrate
from django.db import connections
from rich.console import Console


class Command(django_migrate.Command):
    help = "Applique les migrations à toutes les bases (plateforme et départements), ou à celle donnée."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        parser.epilog = (
            "Exemples :\n"
            "  souscription migrate                       # toutes les bases\n"
            "  souscription migrate --database legal      # la base du Légal seulement\n"
            "  souscription migrate --plan                # ce qui serait appliqué"
        )
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        for action in parser._actions:
            if action.dest == "database":
                action.default = None
                action.help = "Une seule base (alias). Par défaut : toutes."

    def get_check_kwargs(self, options: dict[str, Any]) -> Any:
        # Django's migrate checks the one database it is given; with none given we migrate, so check, them all.
        databases = [options["database"]] if options["database"] else list(connections)
        kwargs = super().get_check_kwargs({**options, "database": databases[0]})
        kwargs["databases"] = databases
        return kwargs

    def handle(self, *args: Any, **options: Any) -> None:
        if options["database"] is not None:
            super().handle(*args, **options)
            return
        console = Console(stderr=True)
        aliases = list(connections)
        for index, alias in enumerate(aliases, start=1):
            console.print(f"[{index}/{len(aliases)}] base « {alias} »")
            super().handle(*args, **{**options, "database": alias})
