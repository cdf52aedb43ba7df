"""The subscription dossier: one application from the first form to the active contract, one status for all."""
