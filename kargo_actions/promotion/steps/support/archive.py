"""What tar and untar share: size limits against archive bombs, and .gitignore-style ignore patterns."""

from __future__ import annotations

import pathspec

from kargo_actions.struct import struct

MIB = 1024 * 1024


@struct
class Limits:
    """Kargo's caps: 50 MiB per file, 100 MiB in all; entries and raw stream bytes are capped here too."""

    max_file_bytes: int = 50 * MIB
    max_total_bytes: int = 100 * MIB
    max_entries: int = 100_000
    # Headers, padding and skipped members also cost reading (a gzip of zeros expands a thousandfold).
    max_stream_bytes: int = 120 * MIB


DEFAULT_LIMITS = Limits()


def ignore_spec(ignore: str | None) -> pathspec.GitIgnoreSpec:
    """Kargo's rule for tar and untar: the given patterns, or `.git` alone when there are none."""
    lines = [line.strip() for line in (ignore or "").splitlines()]
    patterns = [line for line in lines if line and not line.startswith("#")]
    return pathspec.GitIgnoreSpec.from_lines(patterns or [".git"])


def ignored(spec: pathspec.GitIgnoreSpec, relative: str, is_dir: bool) -> bool:
    """Whether `relative` (slash-separated) matches; directories are matched with a trailing slash."""
    return spec.match_file(relative + "/" if is_dir else relative)


def size_text(count: int) -> str:
    return f"{count / MIB:.1f} MiB" if count >= MIB else f"{count} bytes"
