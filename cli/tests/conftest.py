"""What the CLI's tests share: ``herald`` run against an API answered in memory."""

from __future__ import annotations

import pytest

from .running_herald import Herald


@pytest.fixture
def herald(capsys: pytest.CaptureFixture[str]) -> Herald:
    return Herald(capsys)
