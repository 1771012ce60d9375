"""What Herald knows of a tenant's recipients across campaigns."""
