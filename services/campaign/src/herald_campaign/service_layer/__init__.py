"""The campaign service's operations, shared by the REST API and the command consumer."""
