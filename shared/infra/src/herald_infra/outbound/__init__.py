"""Addresses tenants give Herald that something in the deployment will fetch."""
