"""GDPR rights and retention across the departments (issue 4): access export, erasure, retention job.

Orchestration only: every department's data is read and erased through that department's services; this package
has no tables of its own (the consent register is customer service's, `souscription.consents`)."""
