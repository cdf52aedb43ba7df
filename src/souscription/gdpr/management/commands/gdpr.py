"""`souscription gdpr`: a customer's access export, their erasure, and the retention job on demand."""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from souscription.audit.context import Actor
from souscription.gdpr import access, erasure, retention
from souscription.gdpr.domain import RULES
from souscription.gdpr.render import to_html
from souscription.kernel.errors import DomainError
from souscription.platform.commands import PlatformCommand


class Command(PlatformCommand):
    help = (
        "RGPD : exporte tout ce qui est détenu sur un client (JSON et HTML lisible), efface un client (destruction "
        "des clés et suppression, sauf ce que la loi ou un contrat en cours impose de garder, listé), applique les "
        "durées de conservation."
    )
    examples = (
        "  souscription gdpr export --customer lea.martin@exemple.fr       # écrit rgpd-<id>.json et rgpd-<id>.html\n"
        "  souscription gdpr export --customer 5b0c…-uuid --output /tmp/lea  # /tmp/lea.json et /tmp/lea.html\n"
        "  souscription gdpr erase --customer lea.martin@exemple.fr --dry-run  # ce qui serait effacé et gardé\n"
        "  souscription gdpr erase --customer 5b0c…-uuid --format json\n"
        "  souscription gdpr erase --customer 5b0c…-uuid --force  # contrat terminé hors plateforme\n"
        "  souscription gdpr retention --dry-run                     # ce que la tâche quotidienne supprimerait\n"
        "  souscription gdpr rules                                   # le tableau des durées de conservation"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{export,erase,retention,rules}")
        exporting = actions.add_parser("export", help="Droit d'accès : JSON et HTML de tout ce qui est détenu.")
        exporting.add_argument("--customer", required=True, help="Identifiant (UUID) ou e-mail du client.")
        exporting.add_argument("--output", type=Path, help="Préfixe des fichiers écrits. Défaut : rgpd-<id>.")
        erasing = actions.add_parser("erase", help="Droit à l'effacement.")
        erasing.add_argument("--customer", required=True, help="Identifiant (UUID) ou e-mail du client.")
        erasing.add_argument("--dry-run", action="store_true", help="Montre ce qui serait effacé, sans rien changer.")
        erasing.add_argument(
            "--force",
            action="store_true",
            help="Efface aussi les contrats signés ou actifs (contrat terminé hors plateforme) ; la conservation "
            "légale (contrat signé, factures, journal) s'applique toujours.",
        )
        erasing.add_argument("--format", choices=("text", "json"), default="text")
        keeping = actions.add_parser("retention", help="Applique les durées de conservation (comme la tâche du jour).")
        keeping.add_argument("--dry-run", action="store_true", help="Compte sans rien supprimer.")
        keeping.add_argument("--format", choices=("text", "json"), default="text")
        actions.add_parser("rules", help="Affiche le tableau des durées de conservation.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "export":
                self._export(options["customer"], options["output"])
            elif options["action"] == "erase":
                self._erase(
                    options["customer"], force=options["force"], dry_run=options["dry_run"], fmt=options["format"]
                )
            elif options["action"] == "retention":
                self._retention(dry_run=options["dry_run"], fmt=options["format"])
            else:
                for rule in RULES:
                    period = f"{rule.months} mois" if rule.months else "-"
                    self.stdout.write(f"{rule.category}\t{period}\t{rule.legal_basis}\t{rule.at_expiry}")
        except DomainError as error:
            raise CommandError(f"{error.message} ({error.code})") from None

    def _export(self, reference: str, output: Path | None) -> None:
        customer_id = access.resolve_customer(reference)
        self.progress_console.print(f"export des données du client {customer_id} dans chaque base…")
        export = access.export_customer(
            customer_id=customer_id, output_format="json+html", actor=_console(), now=timezone.now()
        )
        prefix = output or Path(f"rgpd-{customer_id}")
        for suffix, body in ((".json", access.to_json(export)), (".html", to_html(export))):
            path = prefix.with_name(prefix.name + suffix)
            _write_private(path, body)
            self.stdout.write(str(path))

    def _erase(self, reference: str, *, force: bool, dry_run: bool, fmt: str) -> None:
        customer_id = access.resolve_customer(reference)
        self.progress_console.print(f"effacement du client {customer_id}{' (simulation)' if dry_run else ''}…")
        result = erasure.erase_customer(customer_id=customer_id, force=force, dry_run=dry_run)
        if fmt == "json":
            body = {**asdict(result), "customer_id": str(customer_id)}
            self.stdout.write(json.dumps(body, ensure_ascii=False, indent=2))
            return
        self.stdout.write(f"client {customer_id} : {'à effacer' if dry_run else 'effacé'}")
        for database, counts in sorted(result.erased.items()):
            summary = ", ".join(f"{name}={count}" for name, count in counts.items() if count) or "rien"
            self.stdout.write(f"effacé\t{database}\t{summary}")
        for kept in result.kept:
            self.stdout.write(f"gardé\t{kept.category}\t{kept.reference}\t{kept.detail}\t{kept.reason}")

    def _retention(self, *, dry_run: bool, fmt: str) -> None:
        self.progress_console.print(
            "durées de conservation" + (" (simulation, rien n'est supprimé)" if dry_run else "")
        )
        outcomes = retention.apply_all(now=timezone.now(), dry_run=dry_run)
        if fmt == "json":
            self.stdout.write(json.dumps([asdict(outcome) for outcome in outcomes], ensure_ascii=False, indent=2))
            return
        for outcome in outcomes:
            self.stdout.write(f"{outcome.category}\tavant {outcome.cutoff}\t{outcome.count}")


def _console() -> Actor:
    """Who runs the command, as the operating system knows them: the export names a person, not `platform`."""
    return Actor(f"console:{getpass.getuser()}", "", "console")


def _write_private(path: Path, body: str) -> None:
    """The export holds health and bank data in the clear: readable by its owner only (0600) from creation."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(body)
