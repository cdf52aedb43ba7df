"""The e-signature port (`port.py`, provider-neutral) and its Yousign v3 adapter (`yousign.py`, with its pure state
tables and webhook check in `yousign_states.py`). The embedded default stays in `subscriptions/paperwork.py`."""

from souscription.integrations.signature.port import (
    CancelReason,
    ContractForSignature,
    SignatureEvent,
    SignatureEventKind,
    SignatureField,
    SignatureNotDone,
    SignaturePort,
    SignatureRequest,
    SignatureStatus,
    SignedContract,
    Signer,
)

__all__ = [
    "CancelReason",
    "ContractForSignature",
    "SignatureEvent",
    "SignatureEventKind",
    "SignatureField",
    "SignatureNotDone",
    "SignaturePort",
    "SignatureRequest",
    "SignatureStatus",
    "SignedContract",
    "Signer",
]
