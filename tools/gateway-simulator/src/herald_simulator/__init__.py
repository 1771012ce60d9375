"""Herald's gateway simulator: the subsets of WAHA's and Evolution API's HTTP APIs that Herald
uses (``app``, ``waha_auth``; ``evolution_routes``), on one set of sessions.

Dev and test tooling (not a service). See :func:`herald_simulator.app.create_app` and
:func:`herald_simulator.main.main`.
"""

from herald_simulator.app import create_app
from herald_simulator.config import SimulatorConfig

__all__ = ["SimulatorConfig", "create_app"]
