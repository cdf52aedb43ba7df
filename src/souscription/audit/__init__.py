"""The tamper-evident audit trail: one append-only, signed Merkle log per database (issue 4)."""
