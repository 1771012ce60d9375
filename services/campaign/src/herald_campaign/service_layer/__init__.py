"""The campaign service's operations, shared by the REST API and the consumers. They keep their
state in MongoDB and reach everything else (Kafka, gateways, notification stores) through the
ports of :mod:`.ports`, which :mod:`herald_campaign.bootstrap` fills with adapters."""
