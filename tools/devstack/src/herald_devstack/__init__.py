"""Herald's local system: Kafka, the MongoDB-wire server, gateway simulators and five services."""
