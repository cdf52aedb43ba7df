"""The platform's side of the integrations (issue 5): which adapter serves each port (`registry.py`), vendor calls
run as durable child workflows on a rate-limited queue per vendor that park instead of failing (`calls.py`), the
parked and dead-lettered calls (`models.py`, `services.py`, `souscription connectors`), inbound webhooks checked
and de-duplicated by event id (`webhooks.py`), and the connectors' metrics at `/metrics`."""
