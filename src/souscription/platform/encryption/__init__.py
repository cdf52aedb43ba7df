"""Per-field authenticated encryption (issue 4): health answers and IBANs, envelope encryption, rotation, shredding.

`keyring` is the pure cryptography (no Django, no database): master keys, wrapping data keys, sealing fields.
`store` keeps each subject's wrapped data key in the department database that holds its encrypted fields.
Import the submodules themselves: `store` defines a Django model, so it can only be imported once apps are loaded.
"""
