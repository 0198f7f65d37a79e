"""No record may be lost: a write only fast-forwards from the tip this clone last saw.

The memory is the local ledger branch: it only ever holds tips that were on the remote (a push moves it after
the remote took the commit; reads adopt fetched tips that descend from it), while the remote-tracking ref is
whatever the last `git fetch` found. A clone without a local branch (a fresh checkout) has the Freight tags
instead: every tag's Freight must have its record on the remote tip. When the remote was rewound (force-pushed
to an older commit), the write is refused naming what is missing, and `kargo-actions ledger repair` restores it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kargo_actions.errors import RefusedError
from kargo_actions.ledger.git import Git
from kargo_actions.ledger.layout import is_freight_id, is_name
from kargo_actions.ledger.reader import LedgerRepo, LedgerTree
from kargo_actions.struct import struct

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git knows this object without storing it
_ZERO = "0" * 40
REPAIR_HINT = (
    "run `kargo-actions ledger repair` to restore them (from this clone, from another with --from, "
    "or from the Freight tags), then run this again"
)
_SHOWN = 20  # records named in a refusal; the rest are counted


@struct
class LostRecord:
    """A record file a source holds that the remote tip lacks (blob None: the source removed the file)."""

    path: str
    blob: str | None

    @property
    def what(self) -> str:
        return describe(self.path) + (" (removed)" if self.blob is None else "")


def describe(path: str) -> str:
    """A record's path as a person names the record: `Freight app/<id>`, `Promotion dev/<name>`, ..."""
    parts = path.removesuffix(".json").split("/")
    kinds = {
        "freight": "Freight",
        "promotions": "Promotion",
        "verifications": "verification",
        "approvals": "approval",
        "metadata": "metadata of",
    }
    if len(parts) == 3 and parts[0] in kinds:
        return f"{kinds[parts[0]]} {parts[1]}/{parts[2]}"
    singles = {"aliases": "alias", "stages": "state of Stage", "discovered": "discovered artifacts of"}
    if len(parts) == 2 and parts[0] in singles:
        return f"{singles[parts[0]]} {parts[1]}"
    return path


class LedgerRewoundError(RefusedError):
    """The remote ledger lacks records this clone saw (or that Freight tags carry): nothing was written."""

    def __init__(self, summary: str, lost: Sequence[str]) -> None:
        self.lost = tuple(lost)
        shown = [f"  {what}" for what in self.lost[:_SHOWN]]
        if len(self.lost) > _SHOWN:
            shown.append(f"  ... and {len(self.lost) - _SHOWN} more")
        self._lines = [summary, *shown, REPAIR_HINT]
        super().__init__("\n".join(self._lines))

    def lines(self) -> list[str]:
        return list(self._lines)


_WALK = 64  # first-parent steps read through cat-file before asking `git merge-base`


def parents(git: Git, commit: str) -> list[str]:
    obj = git.reader.get(commit)
    if obj is None or obj[0] != "commit":
        return []
    head = obj[1].split(b"\n\n", 1)[0].decode(errors="replace")
    return [line[7:] for line in head.splitlines() if line.startswith("parent ")]


def contains(git: Git, tip: str, commit: str, stop: str | None = None) -> bool | None:
    """Whether `commit` is on `tip`'s first-parent line or a parent of a commit on it (how a ledger commit
    lands: pushed on the tip, or merged by a landing commit), read through cat-file, no process started.
    Reaching `stop`, a tip known not to hold `commit`, means False; None when the walk is too long."""
    current: str | None = tip
    for _ in range(_WALK):
        if current is None or current == stop:
            return False if current is not None else None
        if current == commit:
            return True
        found = parents(git, current)
        if commit in found:
            return True
        current = found[0] if found else None
    return None


def is_ancestor(git: Git, older: str, newer: str) -> bool:
    # A ledger's tips follow each other on the first-parent line: most answers need no process.
    if contains(git, newer, older):
        return True
    return git.run("merge-base", "--is-ancestor", older, newer, check=False).returncode == 0


def holds_commit(git: Git, tip: str, commit: str, stop: str | None) -> bool:
    """Whether the ledger at `tip` holds the write made as `commit`, knowing that `stop` (an older tip on
    the first-parent line) did not: the first commit after `stop` to hold it is `commit` or merges it."""
    quick = contains(git, tip, commit, stop)
    if quick is not None:
        return quick
    return git.run("merge-base", "--is-ancestor", commit, tip, check=False).returncode == 0


def merge_base(git: Git, one: str, other: str) -> str | None:
    proc = git.run("merge-base", one, other, check=False)
    return proc.stdout.decode().strip() or None


def changed_files(git: Git, old: str | None, new: str | None) -> dict[str, tuple[str | None, str | None]]:
    """path -> (blob in `old`, blob in `new`) of every file that differs between two commits (None: absent)."""
    if old == new:
        return {}
    proc = git.run("diff-tree", "-r", "-z", "--no-renames", old or EMPTY_TREE, new or EMPTY_TREE)
    items = proc.stdout.decode(errors="surrogateescape").split("\0")
    changes: dict[str, tuple[str | None, str | None]] = {}
    for meta, path in zip(items[0::2], items[1::2], strict=False):
        fields = meta.lstrip(":").split(" ")
        if len(fields) < 5:
            continue
        before, after = fields[2], fields[3]
        changes[path] = (None if before == _ZERO else before, None if after == _ZERO else after)
    return changes


def lost_records(git: Git, source: str, tip: str | None) -> tuple[list[LostRecord], list[str]]:
    """(what `source` changed since it parted from `tip` that `tip` lacks, paths both changed differently).

    A three-way comparison per file: a change the remote never touched is lost; one the remote made too,
    to the same content, is not; one the remote made differently is a conflict (the remote's version stays).
    """
    base = merge_base(git, source, tip) if tip is not None else None
    ours = changed_files(git, base, source)
    theirs = changed_files(git, base, tip) if ours else {}
    lost: list[LostRecord] = []
    conflicts: list[str] = []
    for path, (_, blob) in sorted(ours.items()):
        if path not in theirs:
            lost.append(LostRecord(path, blob))
        elif theirs[path][1] != blob:
            conflicts.append(path)
    return lost, conflicts


def tagged_freight(repo: LedgerRepo) -> list[tuple[str, str]]:
    """(warehouse, Freight ID) of every Freight tag this clone has, from one for-each-ref."""
    prefix = f"refs/tags/{repo.config.tag_prefix}/"
    listing = repo.git.run("for-each-ref", "--format=%(refname)", prefix).stdout.decode()
    found: list[tuple[str, str]] = []
    for ref in listing.split():
        warehouse, _, fid = ref.removeprefix(prefix).rpartition("/")
        if is_name(warehouse) and is_freight_id(fid):
            found.append((warehouse, fid))
    return found


def untagged_records(repo: LedgerRepo, tip: str | None) -> list[tuple[str, str]]:
    """Freight whose tag this clone has but whose record the ledger at `tip` lacks."""
    tagged = tagged_freight(repo)
    if not tagged:
        return []
    recorded = {(e.warehouse, e.id) for e in LedgerTree(repo.git, tip, repo.config.branch).freight_entries()}
    return [key for key in tagged if key not in recorded]


def check_continuity(
    repo: LedgerRepo, tip: str | None, seen: str | None, *, refetch: Callable[[], str | None]
) -> str | None:
    """The remote tip to build on, once it is known to hold every record this clone saw; else refuse.

    `seen` is the local branch as read right after the fetch of `tip`. Another process of this clone may
    have pushed and moved it in between, so a tip that does not descend from it is fetched once more: the
    local branch only ever holds what the remote took, so a fresh fetch holds it too unless it was rewound.
    """
    git, cfg = repo.git, repo.config
    where = f"ledger branch {cfg.branch} on {repo.remote}"
    if seen is None:
        missing = untagged_records(repo, tip)
        if missing:
            raise LedgerRewoundError(
                f"{where} lacks the records of {len(missing)} Freight whose tags exist (was it rewound, "
                "force-pushed to an older commit?); nothing was written:",
                [describe(f"freight/{wh}/{fid}.json") for wh, fid in missing],
            )
        return tip
    if seen == tip or (tip is not None and is_ancestor(git, seen, tip)):
        return tip
    tip = refetch()
    if tip is not None and is_ancestor(git, seen, tip):
        return tip
    lost, conflicts = lost_records(git, seen, tip)
    if lost:
        also = f" ({len(conflicts)} more changed there since)" if conflicts else ""
        raise LedgerRewoundError(
            f"{where} was rewound (force-pushed to an older commit): {len(lost)} record(s) this clone saw "
            f"are missing there{also}; nothing was written:",
            [record.what for record in lost],
        )
    # Everything seen is there (restored by a repair elsewhere): the remote tip becomes the new memory.
    if tip is not None:
        git.run("update-ref", cfg.branch_ref, tip, seen, check=False)
    return tip
