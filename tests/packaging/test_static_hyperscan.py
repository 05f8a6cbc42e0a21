"""setup.py's AIRLOCK_FILTERS_HS_STATIC switch: the scanner extension as setup.py declares it, with
and without the switch, against a libhs.pc like the one vectorscan installs (no private libraries
named). The published wheels link this way (cibuildwheel in .github/workflows/wheels.yml); Debian's
libhs.a is not position-independent, so the link itself cannot be tried here, only what setup.py
asks the linker for.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

# Runs setup.py with setup() and cythonize() recorded instead of run: nothing is built or written.
DECLARED = """
import json, runpy, setuptools, Cython.Build
captured = {}
setuptools.setup = lambda **kw: captured.update(kw)
Cython.Build.cythonize = lambda extensions, **kw: extensions
runpy.run_path("setup.py")
(ext,) = [e for e in captured["ext_modules"] if e.name == "airlock_filters._scanner_c"]
fields = ("libraries", "library_dirs", "include_dirs", "extra_objects", "extra_link_args")
print(json.dumps({name: getattr(ext, name) for name in fields}))
"""


def _system_libhs(variable: str) -> str:
    return subprocess.run(
        ["pkg-config", f"--variable={variable}", "libhs"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _declare(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AIRLOCK_FILTERS_")}
    return subprocess.run(
        [sys.executable, "-c", DECLARED],
        cwd=REPO,
        env={**base, **env},
        capture_output=True,
        text=True,
    )


def _vectorscan_prefix(tmp_path: Path, with_archive: bool = True) -> Path:
    """A prefix laid out as vectorscan's `cmake --install` leaves it, around the system's libhs."""
    lib = tmp_path / "lib"
    (lib / "pkgconfig").mkdir(parents=True)
    if with_archive:
        (lib / "libhs.a").symlink_to(Path(_system_libhs("libdir")) / "libhs.a")
    (lib / "pkgconfig" / "libhs.pc").write_text(
        f"prefix={tmp_path}\n"
        f"libdir={lib}\n"
        f"includedir={Path(_system_libhs('includedir'))}\n\n"
        "Name: libhs\nDescription: vectorscan\nVersion: 5.4.11\n"
        "Libs: -L${libdir} -lhs\nCflags: -I${includedir}/hs\n"
    )
    return lib / "pkgconfig"


def _extension(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_default_build_links_the_shared_library() -> None:
    ext = _extension(_declare())
    assert "hs" in ext["libraries"]
    assert ext["extra_objects"] == []
    assert ext["extra_link_args"] == []


def test_static_switch_links_libhs_a_with_what_it_needs(tmp_path: Path) -> None:
    pkgconfig = _vectorscan_prefix(tmp_path)
    ext = _extension(_declare(AIRLOCK_FILTERS_HS_STATIC="1", PKG_CONFIG_PATH=str(pkgconfig)))
    assert ext["extra_objects"] == [str(pkgconfig.parent / "libhs.a")]
    assert "hs" not in ext["libraries"]  # -lhs would pick libhs.so where both exist
    assert {"stdc++", "m"} <= set(ext["libraries"])  # libhs.a is C++
    assert ext["extra_link_args"] == ["-Wl,--exclude-libs,ALL"]
    assert any(d.endswith("/hs") for d in ext["include_dirs"])


def test_static_switch_without_the_archive_stops_the_build(tmp_path: Path) -> None:
    pkgconfig = _vectorscan_prefix(tmp_path, with_archive=False)
    result = _declare(AIRLOCK_FILTERS_HS_STATIC="1", PKG_CONFIG_PATH=str(pkgconfig))
    assert result.returncode != 0
    assert f"there is no {pkgconfig.parent / 'libhs.a'}" in result.stderr
