"""Fixtures the apply tests share with the traffic tests.

``prom_url`` is the real Prometheus holding the traffic ground truth
(``tests.traffic.conftest.GROUND_TRUTH``); importing it here makes it a fixture of this
folder too (``pytest_plugins`` is only allowed in the root conftest).
"""

from tests.traffic.conftest import prom_url

__all__ = ["prom_url"]
