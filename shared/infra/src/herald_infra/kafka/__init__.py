"""Kafka through FastStream and aiokafka: the broker every service uses, and topic creation."""
