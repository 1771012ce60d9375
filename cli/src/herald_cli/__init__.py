"""herald: the command line for Herald's REST API."""
