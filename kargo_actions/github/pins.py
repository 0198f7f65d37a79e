"""Which kargo-actions the generated workflows call, and the pinned `uses:` lines Dependabot keeps fresh.

By default the workflows pin the installed release's commit (recorded when it was built) with a `# vX.Y.Z`
comment; a development checkout pins its HEAD. `--uses` takes OWNER/REPO@<40-hex commit> or ./PATH; a tag
or a branch only with --allow-unpinned, because whoever can move it can change what runs with the job's
token (zizmor's unpinned-uses). A pinned line's commit and comment are not part of a generated file's
digest, and regenerating keeps the file's pin when it is at least as new: a Dependabot or Renovate bump
passes `generate --check` and survives `generate`.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.struct import struct

REPOSITORY = "kargo-actions/kargo-actions"
_OWNER_REPO = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?/[A-Za-z0-9._-]+"
_USES = re.compile(rf"^(?P<repo>{_OWNER_REPO})@(?P<ref>[^\s#]+)(?:\s+#\s*(?P<comment>.*?))?\s*$")
_SHA = re.compile(r"^[0-9a-f]{40}$")
# A `uses:` line pinned to a full commit, with the comment Dependabot keeps beside it (`# v1.2.3`).
_PINNED_LINE = re.compile(
    r"^(?P<lead>[ \t]*(?:-[ \t]+)?uses:[ \t]+)(?P<action>[^@\s]+)@(?P<sha>[0-9a-f]{40})(?P<comment>[ \t]+#.*)?$"
)
_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?")


@struct
class Uses:
    """What the workflows call: `OWNER/REPO@SHA # comment` or `./PATH`, and what to tell the user about it."""

    value: str
    note: str = ""  # printed on stderr: a development checkout's HEAD, a tag zizmor will flag
    explicit: bool = False  # given by --uses (or KARGO_ACTIONS_USES): its pin replaces the files' own

    @property
    def pinned_repository(self) -> str:
        """OWNER/REPO when the value is pinned to a commit, else ""."""
        found = _USES.match(self.value)
        return found.group("repo") if found and _SHA.match(found.group("ref")) else ""


def parse_uses(text: str, *, allow_unpinned: bool = False, source: str = "--uses") -> Uses:
    """`--uses` checked: OWNER/REPO@<40-hex commit> (an optional `# comment`) or ./PATH; a tag or branch only
    with allow_unpinned."""
    text = text.strip()
    if text.startswith("./"):
        return Uses(text, explicit=True)
    found = _USES.match(text)
    if found is None:
        raise InvalidInputError(
            [
                Problem(
                    path=source,
                    message=f"{text!r} is not OWNER/REPO@<commit> or ./PATH",
                    hint=f"e.g. {REPOSITORY}@<40-hex commit> # v1.2.3, or ./ for a checkout of kargo-actions",
                )
            ]
        )
    repo, ref, comment = found.group("repo"), found.group("ref"), found.group("comment") or ""
    value = f"{repo}@{ref}" + (f" # {comment}" if comment else "")
    if _SHA.match(ref):
        return Uses(value, explicit=True)
    why = (
        "a tag or branch can be moved to other code after you reviewed it, and that code runs with the "
        "jobs' token (zizmor reports it as unpinned-uses)"
    )
    if not allow_unpinned:
        raise InvalidInputError(
            [
                Problem(
                    path=source,
                    message=f"{text!r} is not pinned to a commit: {why}",
                    hint=f"pin the full 40-hex commit of the release: {repo}@<commit> # {ref}; or pass "
                    "--allow-unpinned to use it anyway",
                )
            ]
        )
    note = f"warning: {value} is not pinned to a commit: {why}; zizmor will flag every line using it"
    return Uses(value, note=note, explicit=True)


def default_uses() -> Uses:
    """The installed release's commit (`# vX.Y.Z`), or a development checkout's HEAD; exit 2 naming --uses
    when neither is known."""
    from kargo_actions import version as installed

    number = installed.version()
    commit = installed.build_commit() if installed.is_release() else None
    if commit:
        return Uses(f"{REPOSITORY}@{commit} # v{number}")
    head = installed.checkout_head()
    if head:
        note = (
            f"note: the workflows call {REPOSITORY} at this development checkout's HEAD {head[:12]} "
            f"(v{number}): push that commit, or pass --uses {REPOSITORY}@<commit of a release>"
        )
        return Uses(f"{REPOSITORY}@{head} # v{number}", note=note)
    raise InvalidInputError(
        [
            Problem(
                path="--uses",
                message=f"no commit to pin: this kargo-actions ({number}) records no build commit and runs "
                "from no git checkout",
                hint=f"pass --uses {REPOSITORY}@<40-hex commit> # vX.Y.Z (or set KARGO_ACTIONS_USES)",
            )
        ]
    )


def without_pins(text: str) -> str:
    """The text with every pinned `uses:` line's commit and comment blanked: what the digest covers."""
    return "\n".join(_blank(line) for line in text.split("\n"))


def _blank(line: str) -> str:
    found = _PINNED_LINE.match(line)
    return f"{found.group('lead')}{found.group('action')}@<pinned>" if found else line


def _repository(action: str) -> str:
    return "/".join(action.split("/")[:2])


def _version(comment: str) -> tuple[int, ...] | None:
    found = _VERSION.match(comment.lstrip(" \t#").strip())
    return tuple(int(part or 0) for part in found.groups()) if found else None


@struct
class KeptPins:
    """The generated text with the existing file's pins carried over, and which pins were kept."""

    text: str
    kept: tuple[str, ...]  # "OWNER/REPO@SHA # comment" of each pin kept over a generated one


def keep_pins(existing: str, generated: str, replace: Collection[str] = ()) -> KeptPins:
    """`generated` with each repository's pin as `existing` has it, unless the repository is in `replace`
    (pinned by --uses) or the generated pin's `# vX.Y.Z` is newer than the file's."""
    pins: dict[str, tuple[str, str]] = {}
    for line in existing.split("\n"):
        found = _PINNED_LINE.match(line)
        if found:
            pins.setdefault(
                _repository(found.group("action")), (found.group("sha"), found.group("comment") or "")
            )
    out: list[str] = []
    kept: dict[str, None] = {}
    for line in generated.split("\n"):
        found = _PINNED_LINE.match(line)
        repo = _repository(found.group("action")) if found else ""
        if found is None or repo in replace or repo not in pins:
            out.append(line)
            continue
        sha, comment = pins[repo]
        new_comment = found.group("comment") or ""
        if (sha, comment) == (found.group("sha"), new_comment):
            out.append(line)
            continue
        ours, theirs = _version(new_comment), _version(comment)
        if ours is not None and theirs is not None and ours > theirs:
            out.append(line)
            continue
        out.append(f"{found.group('lead')}{found.group('action')}@{sha}{comment}")
        kept[f"{repo}@{sha}{comment}"] = None
    return KeptPins("\n".join(out), tuple(kept))
