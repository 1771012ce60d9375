"""The front door and the reference point at files that exist.

A newcomer follows the README's map and docs/architecture.md's "where is …?" table to a file; a
moved or renamed module must take its mention along, or this fails and names the stale path.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# A backticked path into the repository's own folders: `shared/core/src/…/pacing.py`, `cli/`.
REPO_PATH = re.compile(r"`((?:shared|services|tools|cli|deploy|k8s|docs|tests)/[\w./*<>{}-]*)`")
# Paths a page names on purpose as gone (the upgrade notes' old layout) or as a pattern.
NOT_FILES = re.compile(r"herald_shared|[*<>{}]")
README_MAP_LINE = re.compile(r"^((?:shared|services|tools|cli|deploy|k8s|tests)/[\w/-]*/?)\s", re.M)


def named_paths(page: Path) -> set[str]:
    return {p for p in REPO_PATH.findall(page.read_text()) if not NOT_FILES.search(p)}


def test_every_path_the_docs_name_exists() -> None:
    missing = {
        f"{page.relative_to(REPO)}: {path}"
        for page in DOCS
        for path in named_paths(page)
        if not (REPO / path.rstrip("/")).exists()
    }
    assert not missing, sorted(missing)


def test_the_readme_map_names_folders_that_exist() -> None:
    folders = README_MAP_LINE.findall((REPO / "README.md").read_text())
    assert len(folders) >= 10, folders
    missing = [f for f in folders if not (REPO / f.rstrip("/")).is_dir()]
    assert not missing, missing


def test_the_newcomer_table_answers_ten_questions_with_files() -> None:
    text = (REPO / "docs" / "architecture.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "?" in line]
    answered = {row.split("|")[1].strip(): REPO_PATH.findall(row.split("|")[2]) for row in rows}
    assert len(answered) >= 10, sorted(answered)
    for question, files in answered.items():
        assert files, f"{question} has no file"
        for file in files:
            assert (REPO / file).is_file(), f"{question} -> {file}"
            assert file.endswith(".py"), f"{question} -> {file}: answer with the module"


def test_the_readme_is_a_front_door() -> None:
    assert len((REPO / "README.md").read_bytes()) <= 12 * 1024
