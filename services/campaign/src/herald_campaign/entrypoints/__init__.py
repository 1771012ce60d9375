"""How the world reaches the campaign service: the REST API (:mod:`.rest`, the gateways' receipt
webhooks included), the consumers of ``campaign.commands`` and ``campaign.events``, and the
gauges Prometheus scrapes. Each only decodes, calls the service layer and encodes the answer.

Each REST module exposes a ``router``; every other module a ``register(runtime, services)``;
:mod:`herald_campaign.bootstrap` lists both and hands them :class:`.services.CampaignServices`.
"""
