"""Herald's campaign service: the REST API, the consumers of ``campaign.commands`` and
``campaign.events``, the gateways' receipt webhooks and the scrape-time gauges.

``domain`` (pure rules) ← ``service_layer`` (operations, ports) ← ``adapters`` (Kafka, HTTP)
← ``entrypoints`` (decode, call, encode); ``bootstrap`` wires them, ``main`` runs them.
"""
