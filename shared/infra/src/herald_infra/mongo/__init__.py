"""MongoDB through PyMongo's async API: the client, collections and indexes, id-batched queries."""
