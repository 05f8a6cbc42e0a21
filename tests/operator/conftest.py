"""The real control plane of tests/k8s for the operator's API tests (fixtures `control_plane`,
`namespace`, `k8s_bin_dir`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, home of the k8s package
from harness import operator, operator_env, operator_settings  # noqa: F401  (module-scoped: one per test file)
from k8s.conftest import control_plane, k8s_bin_dir, namespace  # noqa: F401
