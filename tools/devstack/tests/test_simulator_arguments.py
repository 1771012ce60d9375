"""The simulators' command line as the stack builds it: a secret is one argument whatever it
starts with (a random key may start with '-', which argparse would take for an option)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from herald_devstack.stack import StackConfig, receipt_args
from herald_simulator.main import build_parser


def test_a_key_that_looks_like_an_option_is_still_the_keys_value(tmp_path: Path) -> None:
    config = StackConfig("127.0.0.1:9092", "mongodb://127.0.0.1", tmp_path, "token")
    for key in ("-starts-with-a-dash", "--even-two", config.webhook_hmac_key):
        parsed = build_parser({}).parse_args(receipt_args(replace(config, webhook_hmac_key=key)))
        assert parsed.webhook_hmac_key == key
        assert parsed.webhook_url == config.receipts_url


def test_each_stack_gets_its_own_random_keys(tmp_path: Path) -> None:
    first = StackConfig("k", "m", tmp_path, "t")
    second = StackConfig("k", "m", tmp_path, "t")
    assert first.webhook_hmac_key != second.webhook_hmac_key
    assert len(first.webhook_hmac_key) >= 32
