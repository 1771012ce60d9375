"""The campaign service's I/O beyond MongoDB: the events it publishes, the lag it reads."""
