"""Tree objects parsed by kargo_actions.ledger.git.parse_tree agree with `git ls-tree`, and bad bytes are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from kargo_actions.errors import FailedError
from kargo_actions.ledger.git import Git, parse_tree
from tests.ledger.helpers import git, make_repo


def test_parse_tree_agrees_with_git_ls_tree(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "dir with space").mkdir()
    (repo / "dir with space" / "é.json").write_text("{}\n")
    (repo / "run.sh").write_text("#!/bin/sh\n")
    (repo / "run.sh").chmod(0o755)
    (repo / "link").symlink_to("run.sh")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "files")
    tree = git(repo, "rev-parse", "HEAD^{tree}")
    g = Git(repo)
    try:
        obj = g.reader.get(tree)
    finally:
        g.close()
    assert obj is not None
    assert obj[0] == "tree"
    ours = [(e.mode.zfill(6), e.kind, e.oid, e.name) for e in parse_tree(obj[1])]
    listed = []
    for line in git(repo, "ls-tree", "-z", tree).split("\0"):
        if line:
            meta, name = line.split("\t", 1)
            mode, kind, oid = meta.split()
            listed.append((mode, "tree" if kind == "tree" else "blob", oid, name))
    assert ours == listed
    assert ("120000", "blob") in {(m, k) for m, k, _, _ in ours}  # a link is a blob entry of its own mode


@pytest.mark.parametrize(
    "data", [b"100644 a.json\x00" + b"\x01" * 5, b"garbage", b"100644 a\x00" + b"\x02" * 20 + b"x"]
)
def test_malformed_tree_is_an_error_naming_the_offset(data: bytes) -> None:
    with pytest.raises(FailedError, match=r"malformed tree object \(at byte \d+ of \d+\)"):
        parse_tree(data)
