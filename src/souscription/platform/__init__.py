"""Technical ground shared by every context: database routing, workflow runtime, logging, errors at the edge."""
