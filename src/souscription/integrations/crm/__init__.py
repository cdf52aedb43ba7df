"""The CRM port (`port.py`, provider-neutral) and its HubSpot adapter (`hubspot.py`), with HubSpot's stage tables
(`hubspot_states.py`) and webhook verification (`hubspot_webhooks.py`), both pure. The embedded default is the
platform's own sales pipeline (`subscriptions.domain.crm_status_for`)."""
