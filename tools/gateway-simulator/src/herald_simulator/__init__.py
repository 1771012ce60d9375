"""Herald's gateway simulator: the subset of WAHA's HTTP API that Herald uses.

Dev and test tooling (not a service). See :func:`herald_simulator.app.create_app` and
:func:`herald_simulator.main.main`.
"""

from herald_simulator.app import create_app
from herald_simulator.config import SimulatorConfig

__all__ = ["SimulatorConfig", "create_app"]
