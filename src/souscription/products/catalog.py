"""The product catalogue: every version of every product, read from folders of JSON files.

A product version is a folder `<root>/<product>/<version>/` holding `product.json` and one JDM decision graph per
decision it names. Adding a product is adding a folder: no code. The version in force on a date is the latest
whose `effective_from` is on or before that date.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from souscription.kernel.errors import NotFound
from souscription.products.domain import InvalidDefinition, ProductDefinition, parse_definition

BUILT_IN = Path(__file__).with_name("definitions")


class UnknownProduct(NotFound):
    code = "unknown_product"
    message = "Ce produit n'existe pas ou n'est pas encore en vigueur à cette date."


@dataclass(frozen=True)
class ProductVersion:
    definition: ProductDefinition
    decisions: Mapping[str, dict[str, Any]]
    folder: Path | None = None

    def general_conditions(self) -> bytes | None:
        """The product version's static general conditions (`general_conditions.pdf`), if it has some."""
        path = self.folder / "general_conditions.pdf" if self.folder else None
        return path.read_bytes() if path and path.is_file() else None

    def decision_key(self, name: str) -> str:
        return f"{self.definition.key}/{name}"


class Catalog:
    def __init__(self, versions: Iterable[ProductVersion]) -> None:
        self._versions: dict[str, list[ProductVersion]] = {}
        for version in versions:
            self._versions.setdefault(version.definition.product, []).append(version)
        for versions_of_product in self._versions.values():
            versions_of_product.sort(key=lambda v: v.definition.effective_from)

    @classmethod
    def load(cls, *roots: Path) -> Catalog:
        return cls(_read_version(path.parent) for root in roots for path in sorted(root.glob("*/*/product.json")))

    def products(self) -> list[str]:
        return sorted(self._versions)

    def effective(self, product: str, *, on: date) -> ProductVersion:
        candidates = [v for v in self._versions.get(product, []) if v.definition.effective_from <= on]
        if not candidates:
            raise UnknownProduct(field="product")
        return candidates[-1]

    def version(self, product: str, version: str) -> ProductVersion:
        for candidate in self._versions.get(product, []):
            if candidate.definition.version == version:
                return candidate
        raise UnknownProduct(field="product")

    def decision_contents(self) -> dict[str, dict[str, Any]]:
        """Every decision graph by key, for zen-engine's static loader (loaded once, evaluated by key)."""
        return {
            version.decision_key(name): content
            for versions in self._versions.values()
            for version in versions
            for name, content in version.decisions.items()
        }


def _read_version(folder: Path) -> ProductVersion:
    source = str(folder / "product.json")
    definition = parse_definition(_read_json(folder / "product.json"), source=source)
    if definition.product != folder.parent.name or definition.version != folder.name:
        raise InvalidDefinition(f"{source}: product/version doivent être « {folder.parent.name}/{folder.name} »")
    decisions = {name: _read_json(folder / file) for name, file in definition.decisions.items()}
    return ProductVersion(definition=definition, decisions=decisions, folder=folder)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidDefinition(f"{path}: fichier absent") from None
    except json.JSONDecodeError as error:
        raise InvalidDefinition(f"{path}: JSON invalide ligne {error.lineno} : {error.msg}") from None
    if not isinstance(data, dict):
        raise InvalidDefinition(f"{path}: un objet JSON est attendu")
    return data
