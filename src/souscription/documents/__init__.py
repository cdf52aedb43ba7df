"""The contract documents of a dossier: the offer and the contract as PDF, with the general conditions, sealed.

A plain package, not a Django app: no models, no settings, no clock. Callers pass every date and time, and the data a
document shows, already filtered (sensitive answers never reach this package). That keeps rendering and signing
deterministic, testable without a database, and cheap enough to run for every dossier.
"""
