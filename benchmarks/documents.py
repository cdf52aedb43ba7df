"""Per-dossier cost of the contract documents: render and merge the offer and the contract, seal, check the seal.

Each dossier of the end-to-end target (issue: 25 dossiers a second on two cores) renders an offer and a contract,
merges each with the product's general conditions (parsed once, as in production), seals the contract and checks
the fresh seal (`seal_added`; pyHanko's full `verify_pdf`, for documents from elsewhere, is timed beside it). Each
step runs on its own for the same duration, one after the other in this run, on varying dossiers; the last lines add
up the document work of one dossier. The seal is timed with the ECDSA P-256 identity the platform uses and, for
comparison, with an RSA 2048 one. Baseline, measured in the same run because the machines are shared and noisy:
pyHanko's one-call `sign_pdf` with a stock `SimpleSigner` loaded from the same key files (it rebuilds the signed
attributes and sizes the signature by signing a dummy, for every document).

    .venv/bin/python benchmarks/documents.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import io
import itertools
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TypeVar

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter

from souscription.documents.render import (
    ContractData,
    GeneralConditions,
    OfferData,
    format_cents,
    merge_with_general_conditions,
    render_contract,
    render_offer,
)
from souscription.documents.signature import (
    CERT_FILE,
    FIELD_NAME,
    KEY_FILE,
    SigningIdentity,
    seal_added,
    sign_pdf,
    verify_pdf,
)

NOW = datetime(2026, 11, 21, 14, 30, tzinfo=UTC)
CONDITIONS = (
    Path(__file__).parents[1]
    / "src"
    / "souscription"
    / "products"
    / "definitions"
    / "garantie_automobile"
    / "2026.1"
    / "general_conditions.pdf"
)
OFFER = OfferData(
    subscription_id="SUB-2026-000001",
    product_label="Garantie panne mécanique automobile",
    product_version="2026.1",
    customer_name="Élodie Marchand",
    customer_email="elodie.marchand@exemple.fr",
    answers=[
        ("Immatriculation", "AB-123-CD"),
        ("Marque", "Peugeot"),
        ("Date de première mise en circulation", "2019-03-12"),
        ("Kilométrage", "84000"),
        ("Puissance (ch)", "130"),
        ("Énergie", "diesel"),
        ("Date de naissance", "1985-07-04"),
        ("Date d'obtention du permis", "2004-09-10"),
        ("Prénom", "Élodie"),
        ("Nom", "Marchand"),
        ("Adresse e-mail", "elodie.marchand@exemple.fr"),
        ("Téléphone", "+33 6 12 34 56 78"),
        ("Pays de résidence", "FR"),
        ("Fréquence de paiement", "monthly"),
    ],
    instalment_cents=4_387,
    frequency="monthly",
    price_lines=[
        ("Prime de base", format_cents(42_000)),
        ("Âge du véhicule", "× 1,15"),  # noqa: RUF001
        ("Kilométrage", "× 1,08"),  # noqa: RUF001
        ("Prime hors taxe", format_cents(48_300)),
        ("Taxe sur les conventions d'assurance (0,09)", format_cents(4_347)),
        ("Prime annuelle TTC", format_cents(52_647)),
    ],
    issued_on=date(2026, 11, 21),
    valid_until=date(2026, 12, 21),
)
CONTRACT = ContractData(
    **{name: value for name, value in asdict(OFFER).items() if name != "valid_until"},
    exclusions=["Dommages consécutifs à l'usage du véhicule en compétition."],
    effective_on=date(2026, 11, 22),
    drafted_by="souscription automatique (modèle validé)",
)


Data = TypeVar("Data", OfferData, ContractData)


def dossiers(template: Data) -> Callable[[], Data]:
    """The template with what changes from one dossier to the next: id, customer, registration."""
    numbers = itertools.count(1)

    def next_one() -> Data:
        number = next(numbers) % 1_000_000
        return replace(
            template,
            subscription_id=f"SUB-2026-{number:06d}",
            customer_name=f"Client {number}",
            customer_email=f"client.{number}@exemple.fr",
            answers=[("Immatriculation", f"AB-{number % 1000:03d}-CD"), *template.answers[1:]],
        )

    return next_one


def cost(call: Callable[[], object], seconds: float) -> float:
    """Seconds per call, after a warm-up."""
    for _ in range(20):
        call()
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(10):
            call()
        count += 10
    return elapsed / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time per step")
    args = parser.parse_args()
    conditions = GeneralConditions(CONDITIONS.read_bytes())
    with tempfile.TemporaryDirectory() as folder:
        ecdsa = SigningIdentity.load_or_create(Path(folder), common_name="Souscription cachet", now=NOW)
        stock = signers.SimpleSigner.load(str(Path(folder) / KEY_FILE), str(Path(folder) / CERT_FILE))  # type: ignore[no-untyped-call]
    rsa = SigningIdentity.generate(common_name="Souscription cachet", now=NOW, key_type="rsa-2048")
    offers, contracts = dossiers(OFFER), dossiers(CONTRACT)
    contract = merge_with_general_conditions(render_contract(contracts()), conditions)

    def seal(identity: SigningIdentity) -> Callable[[], bytes]:
        return lambda: sign_pdf(
            contract, identity, signer_name="Souscription", reason="Acceptation", location="En ligne", signed_at=NOW
        )

    def stock_seal() -> bytes:
        metadata = signers.PdfSignatureMetadata(
            field_name=FIELD_NAME, subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
        )
        output = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(contract)), metadata, signer=stock)
        return bytes(output.getvalue())

    sealed = {identity: seal(identity)() for identity in (ecdsa, rsa)}
    steps = {
        "render offer + merge": lambda: merge_with_general_conditions(render_offer(offers()), conditions),
        "render contract + merge": lambda: merge_with_general_conditions(render_contract(contracts()), conditions),
        "seal the contract (ECDSA P-256)": seal(ecdsa),
        "check the fresh seal (ECDSA P-256)": lambda: seal_added(contract, sealed[ecdsa], ecdsa),
        "verify the seal (ECDSA P-256)": lambda: verify_pdf(sealed[ecdsa], ecdsa),
        "seal the contract (RSA 2048)": seal(rsa),
        "verify the seal (RSA 2048)": lambda: verify_pdf(sealed[rsa], rsa),
        "baseline: pyHanko one-call sign_pdf": stock_seal,
    }
    costs = {name: cost(step, args.seconds) for name, step in steps.items()}
    for name, seconds in costs.items():
        print(f"{name:<36}{seconds * 1000:7.2f} ms {1 / seconds:9,.0f} /s")
    # A dossier's path renders both, seals the contract and checks the fresh seal; `verify_pdf` is for documents
    # from elsewhere (and the tests), not on that path.
    path = ("render offer + merge", "render contract + merge", "seal the contract (ECDSA P-256)")
    dossier = sum(costs[name] for name in (*path, "check the fresh seal (ECDSA P-256)"))
    print(f"{'one dossier (the four ECDSA steps)':<36}{dossier * 1000:7.2f} ms {1 / dossier:9,.0f} /s per core")
    ratio = costs["verify the seal (ECDSA P-256)"] / costs["check the fresh seal (ECDSA P-256)"]
    print(f"checking the fresh seal is {ratio:.0f}x as fast as pyHanko's full verification")
    baseline = costs["baseline: pyHanko one-call sign_pdf"] / costs["seal the contract (ECDSA P-256)"]
    print(f"our seal is {baseline:.1f}x as fast as pyHanko's one-call sign_pdf with the same key")
    print(f"merged contract {len(contract):,} bytes, sealed {len(sealed[ecdsa]):,} bytes")


if __name__ == "__main__":
    main()
