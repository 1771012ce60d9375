"""The REST API: routers, request/response bodies, authentication and error bodies."""
