"""The ticketing port (`port.py`: provider-neutral records and the `TicketingPort` protocol) and its Zendesk adapter
(`zendesk.py`, with its status tables and webhook verification in `zendesk_states.py`). The embedded default is the
built-in ticketing, `souscription.tickets`. See docs/integrations/zendesk.md."""
