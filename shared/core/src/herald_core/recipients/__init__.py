"""Rules about a tenant's recipients across campaigns: who may not be sent to. Pure."""
