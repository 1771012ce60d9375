"""Files tenants upload for their campaigns' media messages."""
