"""Builds the compiled twins: `Field` and the per-field loops always, the Hyperscan scanner when the
Hyperscan library is available.

Without them (AIRLOCK_FILTERS_NO_EXTENSIONS=1, or no Cython / Hyperscan) the package installs
as pure Python and uses the pure twins (the pyre2 scanner).

AIRLOCK_FILTERS_HS_STATIC=1 links Hyperscan's static library (libhs.a, found through
pkg-config) into the scanner extension instead of the shared one: the published wheels are
built so (see [tool.cibuildwheel] in pyproject.toml), and need no Hyperscan on the target.
"""

import os
import shutil
import subprocess
from pathlib import Path

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


def _scanner_extension() -> Extension | None:
    static = bool(os.environ.get("AIRLOCK_FILTERS_HS_STATIC"))
    cflags = _pkg_config("--cflags")
    # --static adds what libhs.a itself needs where libhs.pc names it (Debian's does).
    libs = _pkg_config("--static", "--libs") if static else _pkg_config("--libs")
    if not libs:
        if static:
            raise SystemExit("AIRLOCK_FILTERS_HS_STATIC is set but pkg-config finds no libhs")
        return None
    libraries = [f[2:] for f in libs if f.startswith("-l")]
    extra_objects: list[str] = []
    extra_link_args: list[str] = []
    if static:
        # Named by path: with only -lhs the linker prefers libhs.so where both are installed.
        archive = Path(_pkg_config("--variable=libdir")[0]) / "libhs.a"
        if not archive.is_file():
            raise SystemExit(f"AIRLOCK_FILTERS_HS_STATIC is set but there is no {archive}")
        libraries.remove("hs")
        extra_objects.append(str(archive))
        # libhs.a is C++; vectorscan's libhs.pc names none of what it needs.
        libraries += [lib for lib in ("stdc++", "m") if lib not in libraries]
        # Hyperscan's symbols stay private to the extension, so they cannot clash with another
        # copy of Hyperscan loaded into the same process.
        extra_link_args.append("-Wl,--exclude-libs,ALL")
    return Extension(
        "airlock_filters._scanner_c",
        ["airlock_filters/_scanner_c.pyx"],
        include_dirs=[f[2:] for f in cflags if f.startswith("-I")],
        library_dirs=[f[2:] for f in libs if f.startswith("-L")],
        libraries=libraries,
        extra_objects=extra_objects,
        extra_compile_args=["-O2"],
        extra_link_args=extra_link_args,
    )


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
    scanner = _scanner_extension()
    if scanner is not None:
        extensions.append(scanner)
    return cythonize(extensions, language_level=3)


setup(ext_modules=_extensions())
