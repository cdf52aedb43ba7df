"""Pure shared types: the error model and the domain event base. No Django, no I/O."""
