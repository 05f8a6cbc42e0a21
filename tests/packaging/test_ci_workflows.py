"""The GitHub workflows and the cibuildwheel configuration, checked here as far as they can be
without GitHub: they parse, run what they are for (.ci/run, cibuildwheel on both architectures,
the sdist), cibuildwheel accepts its configuration, and the chart workflow's helm commands pass
when run here exactly as written.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"


def workflow(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as a boolean.
    data["on"] = data.pop(True, data.get("on"))
    return dict(data)


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job["steps"])


def runs(job: dict[str, Any]) -> str:
    return "\n".join(str(s.get("run", "")) for s in steps(job))


def uses(job: dict[str, Any]) -> list[str]:
    return [str(s["uses"]) for s in steps(job) if "uses" in s]


@pytest.mark.parametrize("name", ["ci.yml", "wheels.yml", "chart.yml"])
def test_workflow_is_complete(name: str) -> None:
    wf = workflow(name)
    assert wf["name"] and wf["jobs"]
    assert "push" in wf["on"] and "workflow_dispatch" in wf["on"]
    assert wf["permissions"] == {"contents": "read"}
    for job in wf["jobs"].values():
        assert job["runs-on"] and steps(job)
        # Actions are pinned to a release.
        for action in uses(job):
            assert re.fullmatch(r"[\w-]+/[\w-]+@v\d+(\.\d+)*", action), action


def test_ci_workflow_runs_the_test_command_as_root_on_debian() -> None:
    (job,) = workflow("ci.yml")["jobs"].values()
    assert workflow("ci.yml")["on"].keys() >= {"push", "pull_request"}
    assert job["container"] == "debian:12"  # root, like .ci/run's machines
    assert "bash .ci/run" in runs(job)
    assert (REPO / ".ci" / "run").read_text().rstrip().endswith("make test")
    assert job["timeout-minutes"] <= 90


def test_wheels_workflow_builds_both_architectures_and_the_sdist() -> None:
    jobs = workflow("wheels.yml")["jobs"]
    wheels, sdist = jobs["wheels"], jobs["sdist"]
    archs = {m["arch"] for m in wheels["strategy"]["matrix"]["include"]}
    assert archs == {"x86_64", "aarch64"}
    (cibuildwheel,) = [
        s for s in steps(wheels) if str(s.get("uses", "")).startswith("pypa/cibuildwheel@")
    ]
    assert cibuildwheel["env"]["CIBW_ARCHS_LINUX"] == "${{ matrix.arch }}"
    uploads = [
        s["with"]["path"]
        for s in steps(wheels) + steps(sdist)
        if "upload-artifact" in str(s.get("uses"))
    ]
    assert uploads == ["wheelhouse/*.whl", "dist/*.tar.gz"]
    # Without --sdist/--wheel, build makes the sdist and then the wheel from it.
    assert "python -m build --outdir dist ." in runs(sdist)


def test_cibuildwheel_accepts_the_configuration() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cibuildwheel",
            "--print-build-identifiers",
            "--platform",
            "linux",
            "--archs",
            "x86_64,aarch64",
            str(REPO),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "CI": "true"},
    )
    assert result.returncode == 0, result.stderr
    expected = {
        f"cp3{minor}-manylinux_{arch}"
        for minor in (11, 12, 13, 14)
        for arch in ("x86_64", "aarch64")
    }
    assert set(result.stdout.split()) == expected


def test_cibuildwheel_links_a_pinned_static_vectorscan_and_tests_existing_files() -> None:
    with (REPO / "pyproject.toml").open("rb") as f:
        cibw = tomllib.load(f)["tool"]["cibuildwheel"]
    linux = cibw["linux"]
    assert linux["environment"]["AIRLOCK_FILTERS_HS_STATIC"] == "1"
    before_all = " && ".join(linux["before-all"])
    downloads = re.findall(r"curl -fsSL -o (\S+) (https://\S+)", before_all)
    assert len(downloads) == 3
    for archive, _ in downloads:  # every download is checked against a pinned digest
        assert re.search(rf"'[0-9a-f]{{64}}  {re.escape(archive)}' \| sha256sum -c -", before_all)
    assert "-DBUILD_STATIC_LIBS=ON -DBUILD_SHARED_LIBS=OFF" in before_all
    assert "-DCMAKE_POSITION_INDEPENDENT_CODE=ON" in before_all
    pkgconfig = linux["environment"]["PKG_CONFIG_PATH"]
    assert f"-DCMAKE_INSTALL_PREFIX={Path(pkgconfig).parents[1]}" in before_all
    tests = re.findall(r"\{project\}/(\S+)", " ".join(cibw["test-command"]))
    assert tests and all((REPO / t).is_file() for t in tests)


def _helm() -> Path:
    # The helm the k8s tests use (tests/k8s/build_binaries.sh; cached after the first build).
    sys.path.insert(0, str(REPO / "tests"))
    try:
        from k8s.controlplane import binaries_dir
    finally:
        sys.path.remove(str(REPO / "tests"))
    return binaries_dir() / "helm"


def test_chart_workflow_commands_pass(tmp_path: Path) -> None:
    wf = workflow("chart.yml")
    (job,) = wf["jobs"].values()
    setup_helm = [s for s in steps(job) if str(s.get("uses", "")).startswith("azure/setup-helm@")]
    helm = _helm()
    assert setup_helm and setup_helm[0]["with"]["version"] in str(helm.parent)
    env = {
        **{k: str(v) for k, v in wf["env"].items()},
        "PATH": f"{helm.parent}{os.pathsep}/usr/bin:/bin",
        "HOME": str(tmp_path),  # no user helm configuration leaks in
    }
    assert env["CHART"] == "charts/airlock-microgateway-operator"
    commands = [str(s["run"]) for s in steps(job) if "run" in s]
    assert [c.split()[:2] for c in commands] == [["helm", "lint"], ["helm", "template"]]
    for values in job["strategy"]["matrix"]["values"]:
        for command in commands:
            script = command.replace("${{ matrix.values }}", str(values))
            assert "${{" not in script
            result = subprocess.run(
                ["bash", "-c", script], cwd=REPO, env=env, capture_output=True, text=True
            )
            assert result.returncode == 0, f"{script}\n{result.stdout[-2000:]}{result.stderr}"
            if command.startswith("helm template"):
                assert "kind: Deployment" in result.stdout
