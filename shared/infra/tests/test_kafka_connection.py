"""Every Kafka client's connection from the HERALD_KAFKA_* settings, and the combinations that
stop a service at start-up with the setting named. Pure: no broker."""

from __future__ import annotations

import ssl
from typing import Any

import certifi
import pytest
from pydantic import ValidationError

from herald_infra.kafka.connection import broker_security, client_options
from herald_infra.runtime.settings import HeraldSettings

BOOTSTRAP = "broker:9093"


def settings(**fields: Any) -> HeraldSettings:
    return HeraldSettings(kafka_bootstrap_servers=BOOTSTRAP, **fields)


def test_plaintext_by_default_connects_with_the_address_only() -> None:
    assert broker_security(settings()) is None
    assert client_options(settings()) == {"bootstrap_servers": BOOTSTRAP}


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_plaintext_gives_every_client_the_mechanism_and_credentials(mechanism: str) -> None:
    options = client_options(
        settings(
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism=mechanism,
            kafka_sasl_username="herald-campaign",
            kafka_sasl_password="s3cret",
        )
    )
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert options["sasl_mechanism"] == mechanism
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "herald-campaign",
        "s3cret",
    )
    assert options["ssl_context"] is None


def test_sasl_ssl_checks_the_brokers_certificate_and_host_name() -> None:
    options = client_options(
        settings(
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username="herald-scheduler",
            kafka_sasl_password="s3cret",
        )
    )
    assert options["security_protocol"] == "SASL_SSL"
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname


def test_ssl_alone_uses_tls_without_sasl() -> None:
    cafile = certifi.where()  # a real bundle of PEM CAs
    options = client_options(settings(kafka_security_protocol="SSL", kafka_ssl_cafile=cafile))
    assert options["security_protocol"] == "SSL"
    assert "sasl_mechanism" not in options
    assert isinstance(options["ssl_context"], ssl.SSLContext)


def test_the_password_is_kept_out_of_the_settings_text() -> None:
    given = settings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username="u",
        kafka_sasl_password="do-not-print",
    )
    assert "do-not-print" not in repr(given)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "needs HERALD_KAFKA_SASL_MECHANISM"),
        (
            {
                "kafka_security_protocol": "SASL_PLAINTEXT",
                "kafka_sasl_mechanism": "PLAIN",
                "kafka_sasl_username": "u",
            },
            "needs HERALD_KAFKA_SASL_PASSWORD",
        ),
        (
            {"kafka_sasl_username": "u", "kafka_sasl_password": "p"},
            "HERALD_KAFKA_SASL_USERNAME, HERALD_KAFKA_SASL_PASSWORD set, but "
            "HERALD_KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use SASL",
        ),
        (
            {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_ssl_cafile": "/etc/ca.pem"}
            | {"kafka_sasl_mechanism": "PLAIN"}
            | {"kafka_sasl_username": "u", "kafka_sasl_password": "p"},
            "HERALD_KAFKA_SSL_CAFILE set, but HERALD_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT "
            "does not use TLS",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/no/such/ca.pem"},
            "HERALD_KAFKA_SSL_CAFILE: no such file /no/such/ca.pem",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_keyfile": "/etc/key.pem"},
            "HERALD_KAFKA_SSL_KEYFILE set without HERALD_KAFKA_SSL_CERTFILE",
        ),
        ({"kafka_security_protocol": "SASL"}, "kafka_security_protocol"),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "GSSAPI"},
            "kafka_sasl_mechanism",
        ),
    ],
)
def test_settings_that_cannot_work_stop_the_start_naming_the_variable(
    fields: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValidationError, match=named.replace("(", r"\(")):
        settings(**fields)


def test_an_empty_variable_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # What compose and Kubernetes pass for a variable nobody set.
    for name in ("MECHANISM", "USERNAME", "PASSWORD"):
        monkeypatch.setenv(f"HERALD_KAFKA_SASL_{name}", "")
    monkeypatch.setenv("HERALD_KAFKA_SSL_CAFILE", "")
    assert client_options(HeraldSettings()) == {"bootstrap_servers": "127.0.0.1:9092"}
