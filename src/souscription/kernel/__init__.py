"""Pure shared types: identifiers, clock protocol, errors, events. No Django, no I/O."""
