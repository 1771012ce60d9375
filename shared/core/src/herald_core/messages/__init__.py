"""Messages: their state machine, and the records they become on delay and dead-letter topics."""
