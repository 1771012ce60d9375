"""The REST API: one ``router`` per resource (bootstrap includes them, in OpenAPI order), the
gateways' receipt webhooks among them; the request and response schemas; and what every route
shares: the services and the caller's tenant (:mod:`.dependencies`), the error answers
(:mod:`.errors`)."""
