"""Builds the Hyperscan scanner extension when the Hyperscan library is available.

Without it (or with AIRLOCK_FILTERS_NO_EXTENSIONS=1) the package installs as pure Python and
uses the pyre2 twin of the scanner.
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
    cflags = _pkg_config("--cflags")
    libs = _pkg_config("--libs")
    if not libs:
        return []
    from Cython.Build import cythonize

    ext = Extension(
        "airlock_filters._scanner_c",
        ["airlock_filters/_scanner_c.pyx"],
        include_dirs=[f[2:] for f in cflags if f.startswith("-I")],
        library_dirs=[f[2:] for f in libs if f.startswith("-L")],
        libraries=[f[2:] for f in libs if f.startswith("-l")],
        extra_compile_args=["-O2"],
    )
    return cythonize([ext], language_level=3)


setup(ext_modules=_extensions())
