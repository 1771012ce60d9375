"""The sender engine shared by primary-sender and fallback-sender."""
