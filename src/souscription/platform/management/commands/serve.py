"""`souscription serve`: portal, back office and API in one process (waitress), plus the workflow runtime."""

from __future__ import annotations

import signal
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from waitress import create_server

from souscription.platform import workflows
from souscription.platform.commands import PlatformCommand
from souscription.platform.executor_lock import ExecutorAlreadyRunning
from souscription.wsgi import application


class Command(PlatformCommand):
    help = "Sert le portail, le back-office et l'API ; en mode embarqué, exécute aussi les workflows."
    examples = (
        "  souscription serve\n"
        "  souscription serve --port 8080\n"
        "  SOUSCRIPTION_PROFILE=production souscription serve --no-workflows   # workflows dans les workers"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        env = settings.SOUSCRIPTION
        parser.add_argument("--host", default=env.host, help=f"Adresse d'écoute (défaut : {env.host}).")
        parser.add_argument("--port", type=int, default=env.port, help=f"Port (défaut : {env.port}).")
        parser.add_argument("--threads", type=int, default=env.web_threads, help="Fils de traitement des requêtes.")
        parser.add_argument(
            "--no-workflows",
            action="store_true",
            help="Ne pas exécuter les workflows dans ce processus (production, avec des workers séparés).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["no_workflows"]:
            try:
                workflows.launch(settings.SOUSCRIPTION)
            except ExecutorAlreadyRunning as error:
                raise CommandError(str(error)) from None
        host, port = options["host"], options["port"]
        signal.signal(signal.SIGTERM, _stop)
        try:
            try:
                server = create_server(
                    application, host=host, port=port, threads=options["threads"], ident="souscription"
                )
            except OSError as error:
                raise CommandError(
                    f"Impossible d'écouter sur {host}:{port} ({error.strerror}) : "
                    "choisissez un autre port avec --port ou SOUSCRIPTION_PORT."
                ) from None
            shown_host = f"[{host}]" if ":" in host else host
            self.progress_console.print(f"Souscription est prête : http://{shown_host}:{port}/  (Ctrl+C pour arrêter)")
            self.progress_console.print(f"API : http://{shown_host}:{port}/api/v1/docs")
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            workflows.shutdown()
        workflows.end_process()


def _stop(signum: int, frame: object) -> None:
    """SIGTERM (a process manager's stop) ends the server like Ctrl+C, so the workflow runtime shuts down."""
    raise KeyboardInterrupt
