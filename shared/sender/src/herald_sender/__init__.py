"""The sender engine: primary-sender and fallback-sender are two deployments of it.

A send record goes: ``lane_consumer`` (one lane per sender account, commits per partition up to
the lowest unfinished offset) → ``send_records`` (decode, dead-letter poison) → ``claim_and_send``
(claim the message in MongoDB, check its campaign (``campaign_gate``), take the account's pace
slot (``pacer``), call the gateway (``gateway_directory`` picks the account's session), record the
outcome or route the failure by the attempt plan). ``circuit_breaker`` is the pure breaker,
``circuit_registry`` a process's breakers per account; ``session_polling`` checks sessions'
health; ``graceful_stop`` hands claimed messages back on SIGTERM. ``deployment`` is the composition
root both services call with their route (primary or fallback).
"""
