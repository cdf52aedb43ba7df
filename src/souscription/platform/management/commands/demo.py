"""`souscription demo`: load the reproducible demo data set and print the demo accounts."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from rich.progress import Progress

from souscription.demo import DEMO_PASSWORD, demo_steps, staff_accounts
from souscription.platform.commands import PlatformCommand


class Command(PlatformCommand):
    help = "Charge le jeu de démonstration (reproductible : même graine, mêmes données ; idempotent)."
    examples = "  souscription demo\n  souscription demo --seed 7 --customers 200\n  souscription demo --quiet"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=2026, help="Graine du jeu de données (défaut : 2026).")
        parser.add_argument("--customers", type=int, default=24, help="Nombre de clients (défaut : 24).")
        parser.add_argument("--quiet", action="store_true", help="Sans barre de progression ni tableau.")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.SOUSCRIPTION.is_production:
            raise CommandError("Le jeu de démonstration est refusé en production : ses mots de passe sont publics.")
        if not 0 <= options["customers"] <= 100_000:
            raise CommandError("--customers doit être entre 0 et 100000.")
        steps = list(demo_steps(seed=options["seed"], customers_count=options["customers"]))
        with Progress(console=self.progress_console, disable=options["quiet"], transient=True) as progress:
            task = progress.add_task("Jeu de démonstration", total=len(steps))
            for label, step in steps:
                progress.update(task, description=label)
                step()
                progress.advance(task)
        if options["quiet"]:
            return
        self.stdout.write(f"Comptes de démonstration (mot de passe pour tous : {DEMO_PASSWORD})")
        for account in staff_accounts():
            self.stdout.write(f"  {account.role.label:<26} {account.email}")
        self.stdout.write(
            "Second facteur obligatoire : à la première connexion, la page d'enrôlement affiche la clé à saisir "
            "dans une application d'authentification (TOTP)."
        )
