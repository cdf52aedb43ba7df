"""Shared shape of the platform's commands: examples in `--help`, progress on stderr, data on stdout."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from rich.console import Console


class PlatformCommand(BaseCommand):
    examples: str = ""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        if self.examples:
            parser.epilog = "Exemples :\n" + self.examples
        return parser

    @property
    def progress_console(self) -> Console:
        """Progress bars and human chatter: stderr, so stdout stays clean for data."""
        return Console(stderr=True)
