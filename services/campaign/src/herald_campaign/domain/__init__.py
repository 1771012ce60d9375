"""The campaign service's business rules: pure functions and values, no I/O."""
