"""Builds the compiled twins: `Field` and the per-field loops always, the Hyperscan scanner when the
Hyperscan library is available.

Without them (AIRLOCK_FILTERS_NO_EXTENSIONS=1, or no Cython / Hyperscan) the package installs
as pure Python and uses the pure twins (the pyre2 scanner).
"""

import os
import shutil
import subprocess

from setuptools import Extension, setup


def _pkg_config(*args: str) -> list[str]:
    if shutil.which("pkg-config") is None:
        return []
    try:
        out = subprocess.run(
            ["pkg-config", *args, "libhs"], check=True, capture_output=True, text=True
        ).stdout
    except subprocess.CalledProcessError:
        return []
    return out.split()


def _extensions() -> list[Extension]:
    if os.environ.get("AIRLOCK_FILTERS_NO_EXTENSIONS"):
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        return []
    extensions = [
        Extension(
            f"airlock_filters.{name}", [f"airlock_filters/{name}.pyx"], extra_compile_args=["-O2"]
        )
        for name in ("_field_c", "_prepare_c")
    ]
    cflags = _pkg_config("--cflags")
    libs = _pkg_config("--libs")
    if libs:
        extensions.append(
            Extension(
                "airlock_filters._scanner_c",
                ["airlock_filters/_scanner_c.pyx"],
                include_dirs=[f[2:] for f in cflags if f.startswith("-I")],
                library_dirs=[f[2:] for f in libs if f.startswith("-L")],
                libraries=[f[2:] for f in libs if f.startswith("-l")],
                extra_compile_args=["-O2"],
            )
        )
    return cythonize(extensions, language_level=3)


setup(ext_modules=_extensions())
