"""The event bus: domain events published to the other departments, on RabbitMQ in production and in-process
in embedded mode (issue 5, "The event bus").

- `envelope.py` (pure): the message on the wire (stable message id, type, schema version, occurrence, producer,
  payload), its JSON that tolerates unknown fields, the routing key `<context>.<event>.v<version>`.
- `port.py` (pure): the `EventBus` and `ConsumedMessages` protocols every implementation honours.
- `inprocess.py`: the embedded bus, synchronous delivery in the process.
- `rabbitmq.py`: the production bus (durable topic exchange, a quorum queue per consumer, publisher confirms,
  manual acks, dead-letter queue after a delivery limit, reconnection).
- `consumed.py` / `consumed_sql.py`: de-duplication by message id in the consumer's own transaction.
- `catalogue.py` and `schemas.py`: the published event classes and their JSON Schemas (`docs/events/`).
- `relay.py`: the outbox relay, publishing recorded events in order, with confirmation, safe to run twice."""
