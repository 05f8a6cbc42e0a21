"""Gateway tests import the sidecar package from `envoy-ext/`, which is not installed yet."""

from __future__ import annotations

import sys
from pathlib import Path

ENVOY_EXT = str(Path(__file__).resolve().parents[2] / "envoy-ext")
if ENVOY_EXT not in sys.path:
    sys.path.insert(0, ENVOY_EXT)
