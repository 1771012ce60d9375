"""Herald's plumbing: MongoDB, Kafka and the runtime every service process shares.

``runtime`` holds settings, logging, metrics, the AsyncAPI declarations and the service scaffold
(one composition of Kafka, MongoDB and an HTTP surface); ``mongo`` the client, collections,
indexes and id-batched queries; ``kafka`` the broker (offsets after durability, poison records
to the dead-letter topic) and topic creation. ``messages``, ``accounts`` and ``campaigns`` are the
stores more than one service writes through: compare-and-set message transitions and the
campaign counters they move, queueing to send topics, redrive, the outcome of a failed attempt,
the sender-account repository and the accounts' pace slots, the fan-out watermark. The rules
they apply come from ``herald_core``.
"""
