"""Versioned data contracts of Herald's Kafka topics."""
