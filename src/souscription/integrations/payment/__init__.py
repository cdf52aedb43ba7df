"""The payment port (issue 5): `port.py` says what the platform asks of a SEPA Direct Debit provider, in its own
words; `stripe.py` is the Stripe adapter and `stripe_states.py` its pure part (status tables, webhook signature).
The embedded default (bank details and SEPA mandates kept by the platform) lives in billing."""
