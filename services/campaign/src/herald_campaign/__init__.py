"""Herald's campaign service: the REST API and the consumer of ``campaign.commands``."""
