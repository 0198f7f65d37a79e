"""Release notes from CHANGELOG.md (scripts/release_notes.py, what release.yml publishes), and the CHANGELOG's
Keep a Changelog form."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "release_notes.py"
CHANGELOG = """# Changelog

Intro text.

## [Unreleased]

### Added
- Something new.

## [1.2.0] - 2026-03-01

### Added
- Feature A.
  Continued line.

### Fixed
- Bug B.

## [1.1.10] - 2026-02-01

### Changed
- Old change.

## [1.1.1] - 2026-01-01
- First.

[Unreleased]: https://example.com/compare/v1.2.0...HEAD
[1.2.0]: https://example.com/compare/v1.1.10...v1.2.0
"""


def _notes(tmp_path: Path, *args: str, text: str = CHANGELOG) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "CHANGELOG.md"
    path.write_text(text)
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args, str(path)], capture_output=True, text=True, cwd=tmp_path
    )


@pytest.mark.parametrize(
    ("version", "notes"),
    [
        ("v1.2.0", "### Added\n- Feature A.\n  Continued line.\n\n### Fixed\n- Bug B.\n"),
        ("1.2.0", "### Added\n- Feature A.\n  Continued line.\n\n### Fixed\n- Bug B.\n"),
        ("v1.1.10", "### Changed\n- Old change.\n"),
        ("v1.1.1", "- First.\n"),  # the last section: the link definitions below it are not notes
    ],
)
def test_the_notes_are_the_body_of_the_versions_section(tmp_path: Path, version: str, notes: str) -> None:
    done = _notes(tmp_path, version)
    assert (done.returncode, done.stdout, done.stderr) == (0, notes, "")


@pytest.mark.parametrize(
    ("version", "text", "says"),
    [
        ("v1.3.0", CHANGELOG, "has no section '## [1.3.0]'"),
        ("v1.1", CHANGELOG, "has no section '## [1.1]'"),  # no prefix match of 1.1.10 or 1.1.1
        ("v2.0.0", "# Changelog\n\n## [2.0.0] - 2026-04-01\n\n## [1.0.0]\n- x\n", "has an empty section"),
    ],
)
def test_a_missing_or_empty_section_is_bad_input(tmp_path: Path, version: str, text: str, says: str) -> None:
    done = _notes(tmp_path, version, text=text)
    assert done.returncode == 2
    assert done.stdout == ""
    assert says in done.stderr
    assert "move the Unreleased entries under" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreadable_changelog_is_bad_input(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "v1.0.0", str(tmp_path / "missing.md")], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "missing.md: cannot read it" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_changelog_keeps_a_changelog_form() -> None:
    text = (REPO_ROOT / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog\n")
    headings = re.findall(r"^## (.*)$", text, flags=re.MULTILINE)
    assert headings[0] == "[Unreleased]"
    for heading in headings[1:]:
        assert re.fullmatch(r"\[\d+\.\d+\.\d+\] - \d{4}-\d{2}-\d{2}", heading), heading
    groups = set(re.findall(r"^### (.*)$", text, flags=re.MULTILINE))
    assert groups <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "Unreleased", str(REPO_ROOT / "CHANGELOG.md")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("### Added\n- ")
