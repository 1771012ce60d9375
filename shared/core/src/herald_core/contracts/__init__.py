"""Versioned data contracts of Herald's Kafka topics: commands, events and the topic names."""
