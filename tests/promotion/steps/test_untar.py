"""untar: config table, real archives (ours and GNU tar's) extracted, and every unsafe archive refused whole."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.step_api import PathEscapeError, TerminalStepError
from kargo_actions.promotion.steps.support.archive import Limits
from kargo_actions.promotion.steps.untar import UnsafeArchive, Untar, UntarConfig
from tests.promotion.steps.configcheck import problems
from tests.promotion.steps.conftest import context

CONFIG_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"inPath": "a.tgz", "outPath": "out"}, []),
    ({"inPath": "a.tgz", "outPath": "out", "stripComponents": 0, "ignore": "*.md"}, []),
    ({"inPath": "a.tgz"}, ["config.outPath: required field is missing"]),
    (
        {"inPath": "a.tgz", "outPath": "out", "stripComponents": -1},
        ["config.stripComponents: must be at least 0, not -1"],
    ),
    (
        {"inPath": "a.tgz", "outPath": "out", "stripComponents": "1"},
        ["config.stripComponents: expected an integer, found a string"],
    ),
    (
        {"inPath": "a.tgz", "outPath": "out", "stripComponents": 1.5},
        ["config.stripComponents: expected an integer, found a number"],
    ),
    ({"inPath": "a.tgz", "outPath": "out", "ignore": ""}, ["config.ignore: must not be empty"]),
]


@pytest.mark.parametrize(("data", "expected"), CONFIG_CASES)
def test_config(data: dict[str, Any], expected: list[str]) -> None:
    assert problems(UntarConfig, data) == expected


Member = tuple[str, str, Any]  # (kind, name, content or link target)


def build(path: Path, members: list[Member], *, gz: bool = False) -> None:
    """A real tar archive holding exactly `members` (kinds: file, dir, symlink, hardlink, chr, fifo)."""
    with tarfile.open(path, "w:gz" if gz else "w", format=tarfile.PAX_FORMAT) as tar:
        for kind, name, value in members:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            data = None
            if kind == "file":
                payload = value.encode() if isinstance(value, str) else value
                info.size, info.mode, data = len(payload), 0o644, io.BytesIO(payload)
            elif kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, value
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, value
            elif kind == "chr":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            tar.addfile(info, data)


def tree(root: Path) -> dict[str, str]:
    """Every path under root: files with their text, directories as '/', symlinks as '-> target'."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[name] = "-> " + os.readlink(path)
        elif path.is_dir():
            found[name] = "/"
        else:
            found[name] = path.read_text()
    return found


RELEASE: list[Member] = [
    ("dir", "release/", None),
    ("file", "release/README.md", "read me\n"),
    ("file", "release/charts/app/values.yaml", "a: 1\n"),
    ("file", "release/.git/HEAD", "ref\n"),
    ("symlink", "release/charts/current", "app"),
    ("symlink", "release/charts/app/readme", "../../README.md"),
    ("hardlink", "release/copy.md", "release/README.md"),
]

RUN_CASES: list[tuple[str, list[Member], bool, dict[str, Any], dict[str, str]]] = [
    (
        "gzipped; .git ignored by default; links inside kept; hard link copied",
        RELEASE,
        True,
        {},
        {
            "release": "/",
            "release/README.md": "read me\n",
            "release/charts": "/",
            "release/charts/app": "/",
            "release/charts/app/readme": "-> ../../README.md",
            "release/charts/app/values.yaml": "a: 1\n",
            "release/charts/current": "-> app",
            "release/copy.md": "read me\n",
        },
    ),
    (
        "stripComponents 1 and ignore patterns",
        RELEASE,
        False,
        {"stripComponents": 1, "ignore": "# docs\n*.md\n"},
        {
            ".git": "/",
            ".git/HEAD": "ref\n",
            "charts": "/",
            "charts/app": "/",
            "charts/app/readme": "-> ../../README.md",
            "charts/app/values.yaml": "a: 1\n",
            "charts/current": "-> app",
        },
    ),
    (
        "'./' prefixes (tar -C dir .) are the archive's root; members with too few parts are skipped",
        [("dir", "./", None), ("file", "./a/b.txt", "b"), ("file", "./top.txt", "t")],
        False,
        {"stripComponents": 2},
        {"b.txt": "b"},
    ),
]


@pytest.mark.parametrize(
    ("members", "gz", "extra", "expected"),
    [case[1:] for case in RUN_CASES],
    ids=[case[0] for case in RUN_CASES],
)
def test_run(
    tmp_path: Path, members: list[Member], gz: bool, extra: dict[str, Any], expected: dict[str, str]
) -> None:
    build(tmp_path / "in.tar", members, gz=gz)
    (tmp_path / "out/old").mkdir(parents=True)
    (tmp_path / "out/old/stale.txt").write_text("replaced")
    config = UntarConfig.model_validate({"inPath": "in.tar", "outPath": "out", **extra})
    result = Untar().run(context(tmp_path), config)
    assert tree(tmp_path / "out") == expected
    assert result.outputs == {}
    assert not list(tmp_path.glob(".untar-*"))


def test_archive_made_by_gnu_tar(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "manifests").mkdir(parents=True)
    (source / "manifests/deploy.yaml").write_text("kind: Deployment\n")
    (source / "run.sh").write_text("#!/bin/sh\n")
    (source / "run.sh").chmod(0o755)
    subprocess.run(["tar", "-czf", str(tmp_path / "bundle.tgz"), "-C", str(source), "."], check=True)
    config = UntarConfig.model_validate({"inPath": "bundle.tgz", "outPath": "deep/er/out"})
    Untar().run(context(tmp_path), config)
    assert tree(tmp_path / "deep/er/out") == {
        "manifests": "/",
        "manifests/deploy.yaml": "kind: Deployment\n",
        "run.sh": "#!/bin/sh\n",
    }
    assert (tmp_path / "deep/er/out/run.sh").stat().st_mode & 0o777 == 0o755


UNSAFE: list[tuple[str, list[Member], str]] = [
    ("parent traversal", [("file", "../evil.txt", "x")], "member '../evil.txt' climbs out with '..'"),
    (
        "traversal inside the name",
        [("file", "a/../../evil.txt", "x")],
        "member 'a/../../evil.txt' climbs out",
    ),
    ("absolute member", [("file", "/etc/evil.txt", "x")], "member '/etc/evil.txt' has an absolute path"),
    (
        "absolute symlink",
        [("symlink", "passwd", "/etc/passwd")],
        "symlink 'passwd' points to '/etc/passwd', outside",
    ),
    ("symlink climbing out", [("symlink", "a/up", "../../x")], "symlink 'a/up' points to '../../x', outside"),
    (
        "symlink with .. later",
        [("symlink", "a/l", "b/../../..")],
        "symlink 'a/l' points to 'b/../../..', outside",
    ),
    (
        "writing through a symlink",
        [("dir", "d/", None), ("symlink", "d/s", ".."), ("symlink", "d/s/t", "../x")],
        "member 'd/s/t' would be written through the symlink 'd/s'",
    ),
    (
        "hard link to a file not in the archive",
        [("hardlink", "shadow", "/etc/shadow")],
        "hard link 'shadow' points to '/etc/shadow', which is not a file extracted from this archive",
    ),
    ("device file", [("chr", "null", None)], "member 'null' is a device file"),
    ("fifo", [("fifo", "pipe", None)], "member 'pipe' is a FIFO"),
]


@pytest.mark.parametrize(("members", "message"), [c[1:] for c in UNSAFE], ids=[c[0] for c in UNSAFE])
def test_unsafe_archives_are_refused_whole(tmp_path: Path, members: list[Member], message: str) -> None:
    (tmp_path / "work/out").mkdir(parents=True)
    build(tmp_path / "work/in.tar", [("file", "good.txt", "ok"), *members])
    (tmp_path / "work/out/keep.txt").write_text("untouched")
    with pytest.raises(UnsafeArchive) as err:
        Untar().run(
            context(tmp_path / "work"), UntarConfig.model_validate({"inPath": "in.tar", "outPath": "out"})
        )
    assert str(err.value).startswith("inPath: " + message)
    assert tree(tmp_path / "work/out") == {"keep.txt": "untouched"}
    assert not list((tmp_path / "work").glob(".untar-*"))
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "x").exists()


def _many(count: int) -> list[Member]:
    return [("file", f"f{i}.txt", "x") for i in range(count)]


LIMITS: list[tuple[str, Callable[[Path], None], Limits, str]] = [
    (
        "one file over the cap",
        lambda p: build(p, [("file", "big.bin", b"\0" * 2000)]),
        Limits(max_file_bytes=1000),
        "inPath: member 'big.bin' is 2000 bytes, over the 1000 bytes a file may have",
    ),
    (
        "files together over the cap",
        lambda p: build(p, _many(5)),
        Limits(max_total_bytes=4),
        "inPath: the files come to more than 4 bytes, the most untar extracts",
    ),
    (
        "too many entries",
        lambda p: build(p, _many(30)),
        Limits(max_entries=20),
        "inPath: more than 20 entries; refusing a likely archive bomb",
    ),
    (
        "gzip bomb: the stream expands past the cap",
        lambda p: build(p, [("file", "zeros.bin", b"\0" * 3_000_000)], gz=True),
        Limits(max_stream_bytes=1_000_000),
        "inPath: 'bomb.tar' expands to more than 1000000 bytes; refusing a likely archive bomb",
    ),
]


@pytest.mark.parametrize(("make", "limits", "message"), [c[1:] for c in LIMITS], ids=[c[0] for c in LIMITS])
def test_size_caps(tmp_path: Path, make: Callable[[Path], None], limits: Limits, message: str) -> None:
    make(tmp_path / "bomb.tar")
    assert (tmp_path / "bomb.tar").stat().st_size < 200_000
    with pytest.raises(UnsafeArchive) as err:
        Untar(limits).run(
            context(tmp_path), UntarConfig.model_validate({"inPath": "bomb.tar", "outPath": "out"})
        )
    assert str(err.value).startswith(message)
    assert not (tmp_path / "out").exists()


def test_default_caps_are_kargos() -> None:
    assert Untar().limits.max_file_bytes == 50 * 1024 * 1024
    assert Untar().limits.max_total_bytes == 100 * 1024 * 1024


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ({"inPath": "nope.tar", "outPath": "out"}, TerminalStepError, "inPath: 'nope.tar' does not exist"),
        ({"inPath": "dir", "outPath": "out"}, TerminalStepError, "inPath: 'dir' is not a file"),
        (
            {"inPath": "text.tar", "outPath": "out"},
            TerminalStepError,
            "inPath: 'text.tar' is not a readable tar archive",
        ),
        (
            {"inPath": "../in.tar", "outPath": "out"},
            PathEscapeError,
            "inPath: '../in.tar' leads outside the work dir",
        ),
        (
            {"inPath": "in.tar", "outPath": "../out"},
            PathEscapeError,
            "outPath: '../out' leads outside the work dir",
        ),
        (
            {"inPath": "in.tar", "outPath": "."},
            TerminalStepError,
            "outPath: is the work dir itself; untar replaces outPath, so name a folder in it",
        ),
        (
            {"inPath": "in.tar", "outPath": "text.tar"},
            TerminalStepError,
            "outPath: 'text.tar' exists and is not a directory",
        ),
    ],
)
def test_bad_input(tmp_path: Path, data: dict[str, Any], error: type[Exception], message: str) -> None:
    work = tmp_path / "work"
    (work / "dir").mkdir(parents=True)
    (work / "text.tar").write_text("this is not an archive, but it is long enough to need a header" * 10)
    build(work / "in.tar", [("file", "a.txt", "a")])
    build(tmp_path / "in.tar", [("file", "a.txt", "a")])
    with pytest.raises(error) as err:
        Untar().run(context(work), UntarConfig.model_validate(data))
    assert str(err.value).startswith(message)
    assert not (tmp_path / "out").exists()
