"""How every Kafka client of Herald reaches the brokers: their address and, for a locked-down
broker, SASL (PLAIN, SCRAM) and TLS, all from the ``HERALD_KAFKA_*`` settings.

FastStream's brokers take :func:`broker_security`; the aiokafka clients Herald makes itself (the
admin client that creates topics, the senders' lane consumers, the campaign service's lag
reader) take :func:`client_options`, which FastStream's own translation turns from the same
security object into aiokafka's arguments. So no client connects differently from the others.
"""

from __future__ import annotations

from ssl import SSLContext
from typing import Any

from aiokafka.helpers import create_ssl_context
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from herald_infra.runtime.settings import HeraldSettings

_SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}


def kafka_ssl_context(settings: HeraldSettings) -> SSLContext | None:
    """The TLS context of ``SSL`` and ``SASL_SSL`` (brokers' certificates checked against
    ``HERALD_KAFKA_SSL_CAFILE`` or the system's CAs, host names checked); None otherwise."""
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    password = settings.kafka_ssl_key_password
    context: SSLContext = create_ssl_context(
        cafile=settings.kafka_ssl_cafile,
        certfile=settings.kafka_ssl_certfile,
        keyfile=settings.kafka_ssl_keyfile,
        password=password.get_secret_value() if password is not None else None,
    )
    return context


def broker_security(settings: HeraldSettings) -> BaseSecurity | None:
    """FastStream's security object for the settings; None for ``PLAINTEXT``. The settings
    were checked as a whole when they were read (``kafka_security_problem``)."""
    protocol = settings.kafka_security_protocol
    context = kafka_ssl_context(settings)
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    mechanism, username, password = (
        settings.kafka_sasl_mechanism,
        settings.kafka_sasl_username,
        settings.kafka_sasl_password,
    )
    if mechanism is None or username is None or password is None:  # refused by the settings
        raise ValueError(f"HERALD_KAFKA_SECURITY_PROTOCOL={protocol} needs SASL credentials")
    return _SASL[mechanism](
        username,
        password.get_secret_value(),
        ssl_context=context,
        use_ssl=protocol == "SASL_SSL",
    )


def client_options(settings: HeraldSettings) -> dict[str, Any]:
    """Keyword arguments for aiokafka's ``AIOKafkaProducer``, ``AIOKafkaConsumer`` and
    ``AIOKafkaAdminClient``: the bootstrap servers and the security of :func:`broker_security`."""
    return {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        **parse_security(broker_security(settings)),
    }
