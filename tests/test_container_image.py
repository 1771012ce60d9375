"""The Dockerfile builds the image the compose file and the Kubernetes manifests run: two stages,
the locked dependencies installed with uv in the first, a clean non-root runtime in the last,
and a console script for every command they start. (No Docker engine runs here: this reads the
Dockerfile; the build itself is exercised wherever Docker is.)"""

from __future__ import annotations

import re
import shlex
from pathlib import PurePosixPath

import yaml

from tests.image_contents import (
    DOCKERFILE,
    ROOT,
    Stage,
    console_scripts,
    image_commands,
    instructions,
    stages,
    workspace_members,
)

SERVICES = {
    "herald-campaign",
    "herald-dispatcher",
    "herald-primary-sender",
    "herald-fallback-sender",
    "herald-scheduler",
}
BUILD_TOOLS = re.compile(
    r"\b(apt-get|apt|apk|yum|dnf)\b.*\binstall\b|\b(gcc|g\+\+|cc|clang|make|build-essential)\b"
    r"|\buv\b|\bpip\b.*\binstall\b"
)


def build_and_final() -> tuple[Stage, Stage]:
    _, all_stages = stages()
    assert len(all_stages) >= 2, "a multi-stage build: dependencies built apart from the runtime"
    return all_stages[0], all_stages[-1]


def test_build_tools_are_recognised() -> None:
    for run in ("apt-get update && apt-get install -y gcc", "pip install uv", "uv sync --frozen"):
        assert BUILD_TOOLS.search(run), run
    assert not BUILD_TOOLS.search("python -m pip uninstall --yes pip && useradd herald")


def test_the_parser_reads_continuations_and_skips_comments() -> None:
    text = "# c\nFROM a AS b\nRUN x \\\n    y\n\nCOPY --from=b /o /o\n"
    assert [(i.keyword, i.arguments) for i in instructions(text)] == [
        ("FROM", "a AS b"),
        ("RUN", "x y"),
        ("COPY", "--from=b /o /o"),
    ]


def test_dependencies_are_installed_from_the_lockfile_with_uv_in_the_build_stage() -> None:
    build, _ = build_and_final()
    assert build.name == "build"
    copied = " ".join(build.all("COPY"))
    assert "uv.lock" in copied
    syncs = [shlex.split(run) for run in build.all("RUN") if "uv sync" in run]
    assert syncs, "the build stage installs with uv sync"
    # --frozen: exactly what uv.lock pins, never a fresh resolution; no dev dependencies.
    assert all({"--frozen", "--no-dev"} <= set(sync) for sync in syncs), syncs
    # The last sync installs Herald's packages as packages, not links into a source tree that
    # the final stage does not have.
    assert "--no-editable" in syncs[-1]


def test_every_workspace_project_file_is_in_the_dependency_layer() -> None:
    # uv sync --frozen needs every workspace member's pyproject.toml, before the sources come.
    build, _ = build_and_final()
    copied = {
        PurePosixPath(shlex.split(copy)[0])
        for copy in build.all("COPY")
        if shlex.split(copy)[0].endswith("pyproject.toml")
    }
    expected = {
        PurePosixPath(str(m.relative_to(ROOT))) / "pyproject.toml" for m in workspace_members()
    }
    assert expected | {PurePosixPath("pyproject.toml")} <= copied


def test_the_final_stage_runs_as_an_unprivileged_user_without_build_tools() -> None:
    build, final = build_and_final()
    # The virtualenv's interpreter links to the base image's Python: both stages share it.
    assert final.base == build.base
    users = final.all("USER")
    assert users, "the final stage sets a user"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}, users
    assert [i.keyword for i in final.instructions].index("USER") > max(
        index for index, i in enumerate(final.instructions) if i.keyword in {"RUN", "COPY"}
    ), "USER comes after the last RUN and COPY"
    for run in final.all("RUN"):
        assert not BUILD_TOOLS.search(run), run
    for copy in final.all("COPY"):
        assert "--from=build" in copy, f"the final stage only takes the built environment: {copy}"


def test_the_image_runs_each_service_and_the_simulator_by_command() -> None:
    commands = image_commands()
    assert SERVICES | {"herald-gateway-simulator"} <= commands
    assert "herald-devstack" in console_scripts()
    assert "herald-devstack" not in commands  # a developer tool, left out of the image
    _, final = build_and_final()
    (cmd,) = final.all("CMD")
    assert yaml.safe_load(cmd)[0] in commands
    # The commands the compose file starts in the image (its services built from this
    # Dockerfile) exist in it.
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    started = {service["command"][0] for service in compose.values() if "build" in service}
    assert SERVICES | {"herald-gateway-simulator"} <= started
    assert started <= commands, started - commands


def test_the_build_context_holds_what_the_dockerfile_copies_and_nothing_private() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def in_context(path: str) -> bool:
        included = True
        for pattern in patterns:
            negated = pattern.startswith("!")
            regex = re.escape(pattern.lstrip("!")).replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
            parts = path.split("/")
            prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
            if any(re.fullmatch(regex, prefix) for prefix in prefixes):
                included = negated
        return included

    build, _ = build_and_final()
    sources = [
        shlex.split(copy)[:-1] for copy in build.all("COPY") if not copy.startswith("--from")
    ]
    for copied in (source for group in sources for source in group):
        assert in_context(copied), f"{copied} is copied but left out of the build context"
    assert in_context("shared/infra/src/herald_infra/runtime/settings.py")
    for private in (".git/config", ".venv/bin/python", ".local/api-token", ".env"):
        assert not in_context(private), private
    assert not in_context("shared/core/tests/test_templates.py")
    assert not in_context("services/campaign/src/herald_campaign/__pycache__/main.cpython-311.pyc")
    assert DOCKERFILE.exists()
