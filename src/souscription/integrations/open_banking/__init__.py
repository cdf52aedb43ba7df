"""Open banking (account information): the provider-neutral port (`port.py`), its rules (`consent.py`, pure:
terms, expiry, the unattended-refresh budget, revocation), the GoCardless Bank Account Data adapter
(`gocardless.py`, with its pure state tables and answer reading in `gocardless_states.py`) and the embedded
sandbox bank (`sandbox.py`), the default."""

from souscription.integrations.open_banking.port import (
    ALL_SCOPES,
    AccessTerms,
    AccountDetails,
    AccountInformationPort,
    AccountStatus,
    Balance,
    Consent,
    ConsentLink,
    ConsentStatus,
    ConsentUnusable,
    Institution,
    Revocation,
    Scope,
    Transaction,
)

__all__ = [
    "ALL_SCOPES",
    "AccessTerms",
    "AccountDetails",
    "AccountInformationPort",
    "AccountStatus",
    "Balance",
    "Consent",
    "ConsentLink",
    "ConsentStatus",
    "ConsentUnusable",
    "Institution",
    "Revocation",
    "Scope",
    "Transaction",
]
