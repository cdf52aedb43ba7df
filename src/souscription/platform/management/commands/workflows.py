"""`souscription workflows`: the workflows ended in error (a fault trying again did not get past), and resuming
them once the cause is fixed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from souscription.platform import workflows
from souscription.platform.commands import PlatformCommand


class Command(PlatformCommand):
    help = (
        "Workflows en erreur : ceux qu'un nouvel essai n'a pas fait aboutir (un défaut, une base à réparer), "
        "et leur reprise à la dernière étape enregistrée une fois la cause corrigée."
    )
    examples = (
        "  souscription workflows failed\n  souscription workflows resume quote:6f1c2e0a-3b7d-4c9e-8a51-0d2f4b6c8e10:r4"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{failed,resume}")
        failed = actions.add_parser("failed", help="Workflows en erreur, les plus récents d'abord.")
        failed.add_argument("--limit", type=int, default=100, help="Combien au plus (100 par défaut).")
        resume = actions.add_parser("resume", help="Reprend des workflows en erreur, par leur identifiant.")
        resume.add_argument("workflow_id", nargs="+", help="Identifiant(s), tels que `failed` les affiche.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "failed":
            found = workflows.failed(limit=options["limit"])
            for workflow in found:
                when = workflow.failed_at.isoformat(timespec="seconds") if workflow.failed_at else "-"
                self.stdout.write("\t".join([workflow.workflow_id, workflow.name, when, workflow.error or "-"]))
            if not found:
                self.progress_console.print("Aucun workflow en erreur.")
            return
        unknown = workflows.resume(options["workflow_id"])
        if unknown:
            raise CommandError("Aucun workflow en erreur sous l'identifiant : " + ", ".join(unknown))
        self.progress_console.print(
            f"{len(options['workflow_id'])} workflow(s) repris : un processus souscription serve ou worker les exécute."
        )
