"""Products as versioned configuration: definitions and JDM decision graphs, evaluated by zen-engine."""
