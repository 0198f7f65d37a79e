"""Print the notes of one release: the body of CHANGELOG.md's `## [X.Y.Z]` section (release.yml's GitHub
release). Exit 2, saying what to add, when the section is missing or empty.

Usage: python scripts/release_notes.py VERSION [CHANGELOG]   (VERSION may start with v)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HEADING = re.compile(r"^## \[(?P<name>[^\]]+)\]")
LINK_DEFINITION = re.compile(r"^\[[^\]]+\]:\s")


def section(changelog: str, version: str) -> str | None:
    """The body of the section headed `## [version]` (link definitions and outer blank lines dropped), or
    None when there is no such heading."""
    body: list[str] | None = None
    for line in changelog.splitlines():
        heading = HEADING.match(line)
        if heading:
            if body is not None:
                break
            if heading.group("name") == version:
                body = []
            continue
        if body is not None and not LINK_DEFINITION.match(line):
            body.append(line)
    return None if body is None else "\n".join(body).strip("\n")


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    version = argv[0].removeprefix("v")
    path = Path(argv[1] if len(argv) == 2 else "CHANGELOG.md")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        print(f"{path}: cannot read it ({err.strerror})", file=sys.stderr)
        return 2
    notes = section(text, version)
    if not notes:
        what = "has no section" if notes is None else "has an empty section"
        print(
            f"{path}: {what} '## [{version}]': move the Unreleased entries under '## [{version}] - DATE'"
            " and commit before tagging",
            file=sys.stderr,
        )
        return 2
    print(notes)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
