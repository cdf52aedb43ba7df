"""`souscription audit`: verify the logs, export a period for an auditor, seal, print the public key."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import connections

from souscription.audit import checks, export, services
from souscription.audit.keys import signing_key
from souscription.platform.commands import PlatformCommand


class Command(PlatformCommand):
    help = (
        "Journal d'audit inviolable : vérifie chaque base (entrées, arbre de Merkle, têtes signées), exporte une "
        "période vérifiable hors ligne, signe une nouvelle tête, affiche la clé publique."
    )
    examples = (
        "  souscription audit verify                         # toutes les bases ; code 1 si un journal est altéré\n"
        "  souscription audit verify --database legal --format json\n"
        "  souscription audit export --since 2026-11-01 --until 2026-11-30 --output audit-2026-11.jsonl\n"
        "  souscription audit seal                           # à planifier, par ex. toutes les 5 minutes\n"
        "  souscription audit public-key > cle-publique.txt  # à publier pour les auditeurs\n"
        "Vérification par l'auditeur, hors ligne, sans la plateforme :\n"
        "  python verifier.py audit-2026-11.jsonl --public-key cle-publique.txt"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{verify,export,seal,public-key}")
        verify = actions.add_parser("verify", help="Vérifie le journal de chaque base.")
        verify.add_argument("--format", choices=("text", "json"), default="text")
        exporting = actions.add_parser("export", help="Exporte une période (JSON lines, têtes et preuves).")
        exporting.add_argument("--since", required=True, type=_day, help="Premier jour (AAAA-MM-JJ, UTC), inclus.")
        exporting.add_argument("--until", required=True, type=_day, help="Dernier jour (AAAA-MM-JJ, UTC), inclus.")
        exporting.add_argument("--output", required=True, type=Path, help="Fichier à écrire (« - » : sortie).")
        actions.add_parser("seal", help="Signe une tête d'arbre sur les entrées pas encore couvertes.")
        actions.add_parser("public-key", help="Affiche la clé publique Ed25519 (base64) des têtes d'arbre.")
        for sub in (verify, exporting, actions.choices["seal"]):
            sub.add_argument("--database", choices=list(connections), help="Une seule base. Par défaut : toutes.")

    def handle(self, *args: Any, **options: Any) -> None:
        databases = [options["database"]] if options.get("database") else list(connections)
        if options["action"] == "verify":
            self._verify(databases, as_json=options["format"] == "json")
        elif options["action"] == "export":
            self._export(databases, options["since"], options["until"], options["output"])
        elif options["action"] == "seal":
            for database in databases:
                head = services.seal(database)
                self.stdout.write(f"{database}\t{head.size if head else 0}\t{head.root_hash if head else '-'}")
        else:
            self.stdout.write(signing_key().public_base64)

    def _verify(self, databases: list[str], *, as_json: bool) -> None:
        reports = [checks.verify(database) for database in databases]
        if as_json:
            body = [
                {
                    "database": r.database,
                    "entries": r.entries,
                    "heads": r.heads,
                    "unsigned": r.unsigned,
                    "ok": r.ok,
                    "problem": r.problem.__dict__ if r.problem else None,
                }
                for r in reports
            ]
            self.stdout.write(json.dumps(body, ensure_ascii=False, indent=2))
        else:
            for r in reports:
                verdict = "OK" if r.problem is None else f"ALTÉRÉ : {r.problem.message}"
                self.stdout.write(
                    f"{r.database} : {r.entries} entrées, {r.heads} têtes signées, {r.unsigned} non signées, {verdict}"
                )
        broken = [r.database for r in reports if not r.ok]
        if broken:
            raise CommandError(f"Journal d'audit altéré dans : {', '.join(broken)}.")

    def _export(self, databases: list[str], first: date, last: date, output: Path) -> None:
        if last < first:
            raise CommandError("--until précède --since : donnez la période dans l'ordre.")
        since = datetime.combine(first, time(), tzinfo=UTC)
        until = datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC)
        try:
            if str(output) == "-":
                exported = export.export(databases=databases, since=since, until=until, output=self.stdout)
            else:
                with output.open("w", encoding="utf-8") as stream:
                    exported = export.export(databases=databases, since=since, until=until, output=stream)
        except services.AuditLogBroken as error:
            if str(output) != "-":
                output.unlink(missing_ok=True)
            raise CommandError(error.message) from None
        for item in exported:
            self.progress_console.print(f"{item.database} : {item.entries} entrées, {item.heads} têtes exportées")


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"date « {value} » illisible : AAAA-MM-JJ") from None
