"""The message store: compare-and-set transitions and counters, queueing, redrive, outcomes."""
