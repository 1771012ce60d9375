"""The campaign service's I/O beyond its own MongoDB reads and writes, each the implementation
of a port of :mod:`herald_campaign.service_layer.ports` (Kafka: events, send events, consumer
lag; the notification stores and the HTTP delivery worker), plus the API-token store the REST
entrypoints authenticate with. Only :mod:`herald_campaign.bootstrap` and the entrypoints import
this package."""
