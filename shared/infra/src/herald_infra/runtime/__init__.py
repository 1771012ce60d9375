"""What every Herald process runs on: settings, logging, metrics, AsyncAPI, the app scaffold."""
