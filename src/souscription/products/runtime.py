"""The catalog and the rule engine the running platform uses, loaded once per process.

Products come from the package's built-in definitions and from every folder named in
`SOUSCRIPTION_PRODUCT_DIRS`, so an insurer adds a product or a version by adding a folder, without a release."""

from __future__ import annotations

import functools
from pathlib import Path

from django.conf import settings

from souscription.products.catalog import BUILT_IN, Catalog
from souscription.products.rules import RuleEngine


@functools.cache
def catalog() -> Catalog:
    extra = [Path(folder) for folder in getattr(settings, "SOUSCRIPTION_PRODUCT_DIRS", ())]
    return Catalog.load(BUILT_IN, *extra)


@functools.cache
def engine() -> RuleEngine:
    return RuleEngine(catalog())
