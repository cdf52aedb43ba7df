"""`souscription worker`: runs durable workflows under a stable executor id, until SIGTERM or Ctrl+C."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from souscription.platform import workflows
from souscription.platform.commands import PlatformCommand
from souscription.platform.executor_lock import ExecutorAlreadyRunning


class Command(PlatformCommand):
    help = "Exécute les workflows durables ; un worker redémarré avec le même identifiant reprend les siens."
    examples = "  souscription worker --executor-id worker-1\n  SOUSCRIPTION_EXECUTOR_ID=worker-2 souscription worker"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--executor-id",
            default=None,
            help="Identifiant stable de ce worker (défaut : SOUSCRIPTION_EXECUTOR_ID).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        env = settings.SOUSCRIPTION
        executor_id = options["executor_id"] or env.executor_id
        if env.is_production and executor_id == "embedded":
            raise CommandError(
                "En production, chaque worker a un identifiant stable et unique : "
                "--executor-id worker-1 ou SOUSCRIPTION_EXECUTOR_ID=worker-1."
            )
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        try:
            workflows.launch(env, executor_id=executor_id)
        except ExecutorAlreadyRunning as error:
            raise CommandError(str(error)) from None
        self.progress_console.print(f"Worker « {executor_id} » démarré : {workflows.describe()}")
        try:
            stop.wait()
        finally:
            workflows.shutdown()
            self.progress_console.print(f"Worker « {executor_id} » arrêté.")
            workflows.end_process()
