"""The customer portal: the portal's API over customer accounts (identity), their messages (customer service) and
their dossiers (subscriptions). An entry point's helper layer: it composes those contexts, owns no table."""
