"""`souscription simulate`: realistic dossiers end to end through the public API, then counts and throughput."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from souscription.platform import workflows
from souscription.platform.commands import PlatformCommand
from souscription.products.catalog import UnknownProduct
from souscription.products.runtime import catalog
from souscription.simulation import SimulationError, simulate


class Command(PlatformCommand):
    help = (
        "Fait passer N dossiers réalistes de la création au contrat actif par l'API publique (personnel simulé "
        "pour l'enquête, l'estimation, la rédaction du contrat et la validation de facture), puis affiche le "
        "nombre de dossiers par étape finale et le débit."
    )
    examples = (
        "  souscription simulate --product garantie_automobile --count 100\n"
        "  souscription simulate --product prevoyance_individuelle --count 40 --seed 7\n"
        "  souscription simulate --product garantie_automobile --count 200 --concurrency 4"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--product", required=True, help="Produit (ex. garantie_automobile).")
        parser.add_argument("--count", type=int, default=20, help="Nombre de dossiers (défaut : 20).")
        parser.add_argument("--seed", type=int, default=2026, help="Graine des données (défaut : 2026).")
        parser.add_argument("--concurrency", type=int, default=1, help="Demandeurs simultanés (défaut : 1).")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.SOUSCRIPTION.is_production:
            raise CommandError("La simulation est refusée en production : elle crée des dossiers fictifs.")
        if not 1 <= options["count"] <= 100_000:
            raise CommandError("--count doit être entre 1 et 100000.")
        if not 1 <= options["concurrency"] <= 64:
            raise CommandError("--concurrency doit être entre 1 et 64.")
        products = catalog().products()
        if options["product"] not in products:
            raise CommandError(f"Produit inconnu « {options['product']} ». Produits : {', '.join(products)}.")
        workflows.launch(settings.SOUSCRIPTION)
        try:
            outcome = simulate(
                product=options["product"],
                count=options["count"],
                seed=options["seed"],
                concurrency=options["concurrency"],
            )
        except (SimulationError, UnknownProduct) as error:
            raise CommandError(str(error)) from error
        finally:
            workflows.shutdown()
        self.stdout.write(f"Produit : {options['product']}")
        self.stdout.write(f"Dossiers : {outcome.dossiers}")
        for stage, count in sorted(outcome.stages.items(), key=lambda item: -item[1]):
            self.stdout.write(f"  {stage:<20} {count}")
        rate = outcome.dossiers / outcome.seconds if outcome.seconds else 0.0
        self.stdout.write(f"Durée : {outcome.seconds:.2f} s, {outcome.requests} requêtes API")
        self.stdout.write(f"Débit : {rate:.1f} dossiers/s")
