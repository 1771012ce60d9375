"""What the container image holds, read from the Dockerfile and the workspace's project files
(no Docker engine is needed): its stages, and the commands it can run."""

from __future__ import annotations

import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    """Upper case: FROM, RUN, COPY …"""
    arguments: str


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [i.arguments for i in self.instructions if i.keyword == keyword]


def instructions(text: str) -> list[Instruction]:
    """A Dockerfile's instructions, continuation lines joined and comments dropped."""
    result: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        result.append(Instruction(keyword.upper(), " ".join(arguments.split())))
        pending = ""
    assert not pending, "the Dockerfile ends in a continuation line"
    return result


def stages(text: str | None = None) -> tuple[dict[str, str], list[Stage]]:
    """The global ARG defaults and the build stages, in order, base images resolved."""
    args: dict[str, str] = {}
    result: list[Stage] = []
    for instruction in instructions(DOCKERFILE.read_text() if text is None else text):
        if instruction.keyword == "ARG" and not result:
            name, _, default = instruction.arguments.partition("=")
            args[name] = default
        elif instruction.keyword == "FROM":
            words = instruction.arguments.split()
            base = words[0]
            for name, value in args.items():
                base = base.replace(f"${{{name}}}", value)
            alias = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            result.append(Stage(base, alias))
        else:
            assert result, f"{instruction.keyword} before the first FROM"
            result[-1].instructions.append(instruction)
    return args, result


def workspace_members() -> list[Path]:
    """The folder of every member of the uv workspace (root pyproject's members globs)."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    members = root["tool"]["uv"]["workspace"]["members"]
    found = [path for pattern in members for path in sorted(ROOT.glob(pattern))]
    return [path for path in found if (path / "pyproject.toml").exists()]


def console_scripts() -> dict[str, str]:
    """Every console script of the workspace: its name → the package that installs it."""
    scripts: dict[str, str] = {}
    for member in workspace_members():
        project = tomllib.loads((member / "pyproject.toml").read_text())["project"]
        for script in project.get("scripts", {}):
            scripts[script] = project["name"]
    return scripts


def image_commands() -> set[str]:
    """The console scripts the image installs: the workspace's, except those of packages its
    final ``uv sync`` leaves out (``--no-install-package``)."""
    _, all_stages = stages()
    left_out: set[str] = set()
    for stage in all_stages:
        for run in stage.all("RUN"):
            words = shlex.split(run)
            if "uv" in words and "sync" in words:
                left_out |= {
                    words[i + 1] for i, word in enumerate(words) if word == "--no-install-package"
                }
    return {script for script, package in console_scripts().items() if package not in left_out}
