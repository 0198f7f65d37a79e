"""tar: config table, real archives read back by GNU tar and by the untar step, ignores, limits, bad input."""

from __future__ import annotations

import gzip
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.step_api import PathEscapeError, TerminalStepError
from kargo_actions.promotion.steps.support.archive import Limits
from kargo_actions.promotion.steps.tar import Tar, TarConfig
from tests.promotion.steps.configcheck import problems
from tests.promotion.steps.conftest import context

CONFIG_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"inPath": "src", "outPath": "a.tar"}, []),
    ({"inPath": "src", "outPath": "a.tgz", "gzip": True, "ignore": "*.log\n"}, []),
    ({"inPath": "src"}, ["config.outPath: required field is missing"]),
    ({"inPath": "src", "outPath": "a.tar", "ignore": ""}, ["config.ignore: must not be empty"]),
    (
        {"inPath": "src", "outPath": "a.tar", "gzip": None},
        ["config.gzip: must not be null: leave the field out instead"],
    ),
    (
        {"inPath": "src", "outPath": "a.tar", "gzip": 1},
        ["config.gzip: expected a boolean (true or false), found an integer"],
    ),
]


@pytest.mark.parametrize(("data", "expected"), CONFIG_CASES)
def test_config(data: dict[str, Any], expected: list[str]) -> None:
    assert problems(TarConfig, data) == expected


def make_tree(root: Path) -> None:
    for name, content in {
        "src/app.yaml": "kind: App\n",
        "src/charts/values.yaml": "a: 1\n",
        "src/debug.log": "noise\n",
        "src/.git/HEAD": "ref: refs/heads/main\n",
        "src/tmp/scratch.txt": "x\n",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    (root / "src/link.yaml").symlink_to("app.yaml")


def gnu_tar_list(archive: Path) -> list[str]:
    """What GNU tar (a real reader, not ours) sees in the archive."""
    return sorted(
        subprocess.run(
            ["tar", "-tf", str(archive)], capture_output=True, text=True, check=True
        ).stdout.split()
    )


RUN_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "directory; .git ignored by default; symlinks kept",
        {"inPath": "src", "outPath": "out/src.tar"},
        ["app.yaml", "charts/", "charts/values.yaml", "debug.log", "link.yaml", "tmp/", "tmp/scratch.txt"],
    ),
    (
        "gzip and ignore patterns (then .git is not ignored by default, as in Kargo)",
        {"inPath": "src", "outPath": "src.tar.gz", "gzip": True, "ignore": "# comment\n*.log\ntmp/\n"},
        [".git/", ".git/HEAD", "app.yaml", "charts/", "charts/values.yaml", "link.yaml"],
    ),
    ("one file", {"inPath": "src/app.yaml", "outPath": "app.tar"}, ["app.yaml"]),
    (
        "archive written inside inPath is not archived into itself",
        {"inPath": "src", "outPath": "src/self.tar", "ignore": "tmp\n"},
        [".git/", ".git/HEAD", "app.yaml", "charts/", "charts/values.yaml", "debug.log", "link.yaml"],
    ),
]


@pytest.mark.parametrize(
    ("data", "names"), [case[1:] for case in RUN_CASES], ids=[case[0] for case in RUN_CASES]
)
def test_run(tmp_path: Path, data: dict[str, Any], names: list[str]) -> None:
    make_tree(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out/src.tar").write_text("an older archive is replaced")
    result = Tar().run(context(tmp_path), TarConfig.model_validate(data))
    archive = tmp_path / data["outPath"]
    assert gnu_tar_list(archive) == names
    assert (archive.read_bytes()[:2] == b"\x1f\x8b") is bool(data.get("gzip"))
    assert not [p.name for p in archive.parent.iterdir() if p.name.endswith(".tmp")]
    assert result.outputs == {}
    with tarfile.open(archive) as tar:
        members = {m.name.rstrip("/"): m for m in tar.getmembers()}
        if "link.yaml" in members:
            assert members["link.yaml"].issym()
            assert members["link.yaml"].linkname == "app.yaml"
        if "app.yaml" in members:
            content = tar.extractfile(members["app.yaml"])
            assert content is not None
            assert content.read() == b"kind: App\n"


def test_gzip_is_deterministic_in_its_header(tmp_path: Path) -> None:
    make_tree(tmp_path)
    Tar().run(
        context(tmp_path), TarConfig.model_validate({"inPath": "src", "outPath": "a.tgz", "gzip": True})
    )
    with gzip.open(tmp_path / "a.tgz") as stream:
        assert stream.read(1)
    assert (tmp_path / "a.tgz").read_bytes()[4:8] == b"\0\0\0\0"  # mtime 0: same tree, same bytes


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ({"inPath": "nope", "outPath": "a.tar"}, TerminalStepError, "inPath: 'nope' does not exist"),
        (
            {"inPath": "../x", "outPath": "a.tar"},
            PathEscapeError,
            "inPath: '../x' leads outside the work dir",
        ),
        (
            {"inPath": "src", "outPath": "/tmp/a.tar"},
            PathEscapeError,
            "outPath: '/tmp/a.tar' is absolute; step paths are relative to the work dir",
        ),
        (
            {"inPath": "src", "outPath": "src/charts"},
            TerminalStepError,
            "outPath: 'src/charts' is a directory; name the archive file",
        ),
    ],
)
def test_bad_paths(tmp_path: Path, data: dict[str, Any], error: type[Exception], message: str) -> None:
    make_tree(tmp_path)
    with pytest.raises(error) as err:
        Tar().run(context(tmp_path), TarConfig.model_validate(data))
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (Limits(max_file_bytes=9), "inPath: 'app.yaml' is 10 bytes, over the 9 bytes a file may have"),
        (
            Limits(max_total_bytes=12),
            "inPath: the files come to more than 12 bytes, the most an archive may hold",
        ),
    ],
)
def test_size_limits(tmp_path: Path, limits: Limits, message: str) -> None:
    make_tree(tmp_path)
    with pytest.raises(TerminalStepError) as err:
        Tar(limits).run(context(tmp_path), TarConfig.model_validate({"inPath": "src", "outPath": "a.tar"}))
    assert str(err.value) == message
    assert not (tmp_path / "a.tar").exists()
    assert not list(tmp_path.glob(".a.tar.*"))


def test_fifo_is_refused(tmp_path: Path) -> None:
    make_tree(tmp_path)
    import os

    os.mkfifo(tmp_path / "src/pipe")
    with pytest.raises(TerminalStepError, match="inPath: 'pipe' is not a file, directory or symlink"):
        Tar().run(context(tmp_path), TarConfig.model_validate({"inPath": "src", "outPath": "a.tar"}))
