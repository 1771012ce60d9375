"""The resilience tests. Each module starts its own stack (its ``stack`` fixture): the
circuit-breaker tests tune the breaker, the Kafka-outage test runs on a broker of its own. Their
clients come from tests/conftest.py.
"""
