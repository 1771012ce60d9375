"""Herald's domain core: the rules of the product as plain functions and classes. No I/O.

What a message, a campaign, a sender account, a schedule and a template are, and the rules that
move them: the message state machine (``messages.states``), the campaign lifecycle
(``campaigns.lifecycle``), the attempt plan (``attempt_plan``), anti-ban pacing arithmetic
(``pacing``), sending caps and warm-up (``accounts.sending_limits``), schedules
(``schedules``), templates (``templates``), dead-letter and delay-topic records
(``messages.dead_letters``, ``messages.delayed_attempts``) and the versioned Kafka contracts
(``contracts``). Nothing here imports pymongo, faststream, fastapi, aiokafka, httpx or
prometheus_client (an import-linter contract checks it): tests call it in milliseconds.
"""
