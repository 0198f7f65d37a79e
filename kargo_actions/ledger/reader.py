"""Reading the ledger branch without the record models: trees, paths, Freight lookup by ID, prefix or alias.

`Ledger` and `Snapshot` (store.py) build on these classes and add typed records and writes. Nothing here
imports pydantic, so `freight show` can answer from `freight_view` in a fraction of the models' start-up
time; any record the schemas do not vouch for sends it back through the models (see shapes.py).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from kargo_actions.errors import FailedError, InvalidInputError, Problem
from kargo_actions.ledger.config import LedgerConfig
from kargo_actions.ledger.git import Git, TreeEntry, read_tree
from kargo_actions.ledger.layout import (
    LEDGER_FORMAT,
    MARKER_PATH,
    TOP_LEVEL,
    alias_path,
    is_name,
)
from kargo_actions.ledger.shapes import conform, record_schema
from kargo_actions.redact import register_secret, url_password


class FreightEntry(NamedTuple):
    """Where one Freight record is (a tuple: `freight list` makes one per recorded Freight)."""

    warehouse: str
    id: str
    blob: str  # anything `git cat-file` resolves to the record: a blob id or `<commit>:<path>`


class LedgerTree:
    """The ledger at one commit, read as files; every read goes through the repository's cat-file process."""

    def __init__(self, git: Git, commit: str | None, where: str) -> None:
        self.git = git
        self.commit = commit
        self.where = where  # the ref name shown in messages, e.g. kargo/ledger
        self.tree: str | None = None
        self.root: dict[str, TreeEntry] = {}
        self._dirs: dict[str, dict[str, TreeEntry]] = {}  # directories `oid` looked into
        if commit is not None:
            self.tree = self._tree_id(commit)
            self.root = read_tree(git, self.tree)
            self._check_ours()

    def _tree_id(self, commit: str) -> str:
        obj = self.git.reader.get(commit)
        if obj is None or obj[0] != "commit":
            raise FailedError(f"{self.where}: {commit} is not a commit")
        first = obj[1].split(b"\n", 1)[0].decode()
        return first.removeprefix("tree ")

    def _check_ours(self) -> None:
        """Refuse a branch that was not written by kargo-actions rather than overwrite it."""
        unexpected = sorted(set(self.root) - TOP_LEVEL)
        marker = self.root.get(MARKER_PATH)
        hint = "choose another ledger branch name (Settings ledger.branch) or move that branch away"
        if marker is None or unexpected:
            what = f"unexpected files {', '.join(unexpected[:10])}" if unexpected else f"no {MARKER_PATH}"
            raise InvalidInputError(
                [
                    Problem(
                        file=self.where,
                        message=f"this branch is not a kargo-actions ledger ({what})",
                        hint=hint,
                    )
                ]
            )
        data = self.git.reader.get(marker.oid)
        assert data is not None
        quick = self.quick_record("ledger-marker", data[1])
        if quick is not None:
            fmt = int(quick["format"])
        else:  # the model reads it, or names what is wrong with it
            from kargo_actions.ledger.records import LedgerMarker, load_record

            fmt = load_record(LedgerMarker, data[1], f"{self.where}:{MARKER_PATH}").format
        if fmt > LEDGER_FORMAT:
            raise InvalidInputError(
                [
                    Problem(
                        file=f"{self.where}:{MARKER_PATH}",
                        path="format",
                        message=f"ledger format {fmt} is newer than this kargo-actions reads "
                        f"({LEDGER_FORMAT})",
                        hint="upgrade kargo-actions",
                    )
                ]
            )

    @staticmethod
    def quick_record(schema: str, data: bytes) -> dict[str, Any] | None:
        """A record's wire form when its schema vouches for it; None sends the caller to the model."""
        try:
            value = conform(json.loads(data), record_schema(schema))
        except (ValueError, RecursionError):  # Mismatch is a ValueError, as are JSON errors
            return None
        return value if isinstance(value, dict) else None

    def _entries(self, path: str) -> dict[str, TreeEntry]:
        """Entries of the directory `path` ("" = root); {} when absent."""
        entries = self.root
        for part in [p for p in path.split("/") if p]:
            entry = entries.get(part)
            if entry is None or entry.kind != "tree":
                return {}
            entries = read_tree(self.git, entry.oid)
        return entries

    def read(self, path: str) -> bytes | None:
        """One file's content; git resolves the path itself (no tree parsing here)."""
        if self.commit is None:
            return None
        obj = self.git.reader.get(f"{self.commit}:{path}")
        return obj[1] if obj is not None and obj[0] == "blob" else None

    def oid(self, path: str) -> str | None:
        """The object at `path` (a record's blob or a directory's tree), None when there is none: what a
        write's conditions (`WritePlan.combine`) compare."""
        head, _, name = path.rpartition("/")
        if head not in self._dirs:  # one commit's trees never change: each is read once
            self._dirs[head] = self._entries(head)
        entry = self._dirs[head].get(name)
        return entry.oid if entry is not None else None

    def exists(self, path: str) -> bool:
        return self.read(path) is not None

    def names(self, path: str) -> list[str]:
        return sorted(self._entries(path))

    def blobs(self, path: str) -> list[tuple[str, str]]:
        """(path, blob id) of every file directly in `path`, in name order."""
        entries = sorted((e for e in self._entries(path).values() if e.kind == "blob"), key=lambda e: e.name)
        return [(f"{path}/{e.name}", e.oid) for e in entries]

    # Freight

    _all_freight: list[FreightEntry] | None = None

    def freight_entries(self, warehouse: str | None = None) -> list[FreightEntry]:
        if warehouse is None:
            # Listed once per tree (one commit): the dashboard asked twice, 300 Warehouse trees each time.
            if self._all_freight is None:
                self._all_freight = self._list_freight(None)
            return list(self._all_freight)
        return self._list_freight(warehouse)

    def _list_freight(self, warehouse: str | None) -> list[FreightEntry]:
        warehouses = self._entries("freight")
        if warehouse is not None:
            warehouses = {k: v for k, v in warehouses.items() if k == warehouse}
        trees = [e for e in warehouses.values() if e.kind == "tree"]
        result: list[FreightEntry] = []
        for wh in trees:
            for entry in read_tree(self.git, wh.oid).values():
                if entry.kind == "blob" and entry.name.endswith(".json"):
                    result.append(FreightEntry(wh.name, entry.name.removesuffix(".json"), entry.oid))
        return result

    def newest_created(self, warehouse: str) -> str | None:
        """The latest creationTimestamp among the Warehouse's recorded Freight (raw JSON, one round trip)."""
        entries = self.freight_entries(warehouse)
        newest: str | None = None
        for obj in self.git.reader.get_many([e.blob for e in entries]):
            try:
                data = json.loads(obj[1]) if obj is not None else None
            except ValueError:
                continue
            meta = data.get("metadata") if isinstance(data, dict) else None
            created = meta.get("creationTimestamp") if isinstance(meta, dict) else None
            if isinstance(created, str) and (newest is None or created > newest):
                newest = created
        return newest

    def find_freight(self, fid: str) -> FreightEntry | None:
        if self.commit is None:
            return None
        warehouses = [e.name for e in self._entries("freight").values() if e.kind == "tree"]
        specs = [f"{self.commit}:freight/{wh}/{fid}.json" for wh in warehouses]
        for wh, obj in zip(warehouses, self.git.reader.get_many(specs), strict=True):
            if obj is not None and obj[0] == "blob":
                return FreightEntry(wh, fid, specs[warehouses.index(wh)])
        return None

    def aliases(self) -> dict[str, str]:
        """alias -> blob id of its alias record."""
        return {
            e.name.removesuffix(".json"): e.oid for e in self._entries("aliases").values() if e.kind == "blob"
        }

    def alias_target(self, alias: str) -> str | None:
        """The Freight ID an alias names, or None when no such alias is recorded."""
        path = alias_path(alias)
        data = self.read(path)
        if data is None:
            return None
        record = self.quick_record("alias-record", data)
        if record is not None:
            return str(record["freight"])
        from kargo_actions.ledger.records import AliasRecord, load_record

        return load_record(AliasRecord, data, f"{self.where}:{path}").freight

    def resolve(self, ref: str) -> FreightEntry:
        """A Freight by full ID, unique ID prefix or alias; none or several -> InvalidInputError with candidates."""
        ref = ref.strip()
        if re.fullmatch(r"[0-9a-f]{40}", ref) and (entry := self.find_freight(ref)) is not None:
            return entry
        target = self.alias_target(ref) if is_name(ref) else None
        if target is not None and (entry := self.find_freight(target)) is not None:
            return entry
        entries = self.freight_entries()
        matches = (
            [e for e in entries if e.id.startswith(ref.lower())] if re.fullmatch(r"[0-9a-fA-F]+", ref) else []
        )
        if len(matches) == 1:
            return matches[0]
        if matches:
            listed = ", ".join(f"{m.warehouse}/{m.id}" for m in sorted(matches, key=lambda m: m.id)[:10])
            more = f" and {len(matches) - 10} more" if len(matches) > 10 else ""
            raise InvalidInputError(
                [
                    Problem(
                        message=f"{ref!r} matches {len(matches)} Freight: {listed}{more}",
                        hint="give more characters of the ID, or an alias",
                    )
                ]
            )
        import difflib

        aliases = self.aliases()  # read only for the message: 25-30 ms at 10,000 Freight
        close = difflib.get_close_matches(ref, list(aliases), n=5, cutoff=0.6)
        if close:
            hint = f"did you mean {', '.join(close)}?"
        elif entries:
            known = sorted(aliases)[:5]
            hint = f"known aliases include {', '.join(known)}; `kargo-actions freight list` shows all"
        else:
            hint = "no Freight is recorded yet"
        raise InvalidInputError(
            [Problem(message=f"no Freight matches {ref!r} by ID, ID prefix or alias", hint=hint)]
        )

    def stage_state_wires(self) -> list[dict[str, Any]] | None:
        """Every stage state record's wire form, in name order; None when the schema vouches not for all."""
        items = self.blobs("stages")
        wires: list[dict[str, Any]] = []
        for obj in self.git.reader.get_many([oid for _, oid in items]):
            wire = None if obj is None else self.quick_record("stage-state-record", obj[1])
            if wire is None:
                return None
            wires.append(wire)
        return wires

    def freight_view(self, ref: str) -> dict[str, Any] | None:
        """The wire form of a Freight with its derived status, as `Ledger.get_freight(ref).wire()` gives it.

        None when a record the answer depends on is not one the schemas vouch for (the caller reads through
        the models then, which either accept it or name the file and what is wrong). Raises, as the models'
        path does, when REF matches no Freight or several.
        """
        entry = self.resolve(ref)
        obj = self.git.reader.get(entry.blob)
        if obj is None or obj[0] != "blob":
            return None
        record = self.quick_record("freight-record", obj[1])
        states = self.stage_state_wires()
        if record is None or states is None:
            return None
        del record["schemaVersion"]
        status = freight_status_wire(record["metadata"]["name"], states)
        if status is not None:
            record["status"] = status
        return record


def freight_status_wire(fid: str, states: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Kargo's Freight status (wire form) derived from stage state records (wire form), stages in order."""
    current: dict[str, Any] = {}
    verified: dict[str, Any] = {}
    approved: dict[str, Any] = {}
    for state in states:
        stage = state["stage"]
        for cur in state["currentFreight"]:
            if cur["name"] == fid:
                current[stage] = {"since": cur["since"]}
        if (v := state["verified"].get(fid)) is not None:
            verified[stage] = {k: v[k] for k in ("verifiedAt", "longestSoak") if k in v}
        if (a := state["approved"].get(fid)) is not None:
            approved[stage] = {"approvedAt": a["approvedAt"]}
    status = {"currentlyIn": current, "verifiedIn": verified, "approvedFor": approved}
    return {k: v for k, v in status.items() if v} or None


# Ledger fetches begun ahead (`LedgerRepo.start_fetch`), by (git dir, fetch arguments): the next fetch of the
# same ref in this process takes the running one over instead of starting its own.
_AHEAD: dict[tuple[Path, tuple[str, ...]], tuple[subprocess.Popen[bytes], float]] = {}
_AHEAD_FOR = 5.0  # seconds a fetch begun ahead stays fresh enough to stand for one begun now
# What the LedgerRepo that began a fetch ahead learnt of its repository (git dir, configuration), by
# (repository, environment): the next LedgerRepo opened on it in this process takes it over once instead
# of asking git again (two processes of each promotion's start).
_HANDED: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[Path, dict[str, str], float]] = {}


class LedgerRepo:
    """A repository's ledger for reading: its git, its configuration, and the newest local ledger tip."""

    def __init__(
        self, repo: Path, config: LedgerConfig | None = None, *, env: Mapping[str, str] | None = None
    ):
        self.config = config or LedgerConfig()
        self.git = Git(repo, env)
        self._config_values: dict[str, str] | None = None
        handed = _HANDED.pop(self._handover_key(), None)
        if handed is not None and time.monotonic() - handed[2] < _AHEAD_FOR:
            self.git.git_dir_is(handed[0])
            self._config_values = handed[1]
        _ = self.git.git_dir  # fail early, with a clear message, outside a repository

    def _handover_key(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return str(self.git.repo.absolute()), tuple(sorted(self.git.env.items()))

    def close(self) -> None:
        self.git.close()

    def __enter__(self) -> LedgerRepo:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def git_config(self) -> dict[str, str]:
        """git's configuration, read once."""
        if self._config_values is None:
            proc = self.git.run("config", "--list", "-z", check=False)
            values: dict[str, str] = {}
            for item in proc.stdout.decode(errors="replace").split("\0"):
                key, _, value = item.partition("\n")
                if key:
                    values[key.lower()] = value
                if key.startswith("remote.") and key.endswith(("url", "pushurl")):
                    register_secret(url_password(value))  # a clone's remote may carry a password
            self._config_values = values
        return self._config_values

    @property
    def remote(self) -> str | None:
        """The configured remote when the repository has it; None = local-only ledger."""
        name = self.config.remote
        if name and f"remote.{name.lower()}.url" in self.git_config():
            return name
        return None

    def fetch_args(self) -> tuple[str, ...]:
        """`git fetch` of the ledger branch into its remote-tracking ref (needs a remote)."""
        remote, tracking = self.remote, self.config.remote_tracking_ref()
        assert remote is not None
        assert tracking is not None
        branch = self.config.branch
        # --no-auto-maintenance: a `git maintenance run --auto` after every fetch doubles a retry's cost.
        # The pending writes come along (ledger/pending.py): --prune drops the copies of those that landed.
        return (
            "fetch",
            "--quiet",
            "--prune",
            "--no-show-forced-updates",  # a walk of history per moved ref: the push was a fast-forward
            "--no-auto-maintenance",
            "--no-tags",
            "--no-write-fetch-head",
            remote,
            f"+refs/heads/{branch}:{tracking}",
            f"+refs/kargo/pending/*:refs/kargo/{remote}/pending/*",
        )

    def start_fetch(self) -> None:
        """Begin fetching the ledger branch in a background git process, so that the fetch overlaps what the
        command does before its first ledger read or write (importing, loading manifests); the first
        `fetch_ledger` for the same ref in this process takes it over. No-op for a local-only ledger."""
        _HANDED[self._handover_key()] = (self.git.git_dir, self.git_config(), time.monotonic())
        if not self.remote:
            return
        args = self.fetch_args()
        key = (self.git.git_dir, args)
        for old, (proc, begun) in list(_AHEAD.items()):  # fetches begun ahead that nothing took over
            if time.monotonic() - begun >= _AHEAD_FOR and proc.poll() is not None:
                proc.communicate()
                del _AHEAD[old]
        if key not in _AHEAD:
            proc = subprocess.Popen(
                ["git", *args], cwd=self.git.repo, env=self.git.env,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
            _AHEAD[key] = (proc, time.monotonic())

    def fetch_ledger(self) -> subprocess.CompletedProcess[bytes]:
        """Fetch the ledger branch into its remote-tracking ref (or finish the fetch `start_fetch` began)."""
        args = self.fetch_args()
        ahead = _AHEAD.pop((self.git.git_dir, args), None)
        if ahead is not None:
            proc, begun = ahead
            out, err = proc.communicate()
            if time.monotonic() - begun < _AHEAD_FOR:
                return subprocess.CompletedProcess(["git", *args], proc.returncode, out, err)
        return self.git.run(*args, check=False)

    @property
    def remote_url(self) -> str | None:
        return self.git_config().get(f"remote.{self.remote.lower()}.url") if self.remote else None

    def _local_tip(self) -> str | None:
        branch = self.config.branch_ref
        tracking = self.config.remote_tracking_ref() if self.remote else None
        refs = self.git.rev_parse_many([r for r in (branch, tracking) if r])
        local, remote = refs.get(branch), refs.get(tracking) if tracking else None
        if local is None or remote is None or local == remote:
            return local or remote
        # Both exist and differ: read the newer one (the remote-tracking ref after someone else's fetch).
        if self.git.run("merge-base", "--is-ancestor", local, remote, check=False).returncode == 0:
            return remote
        return local

    def tree(self, commit: str | None = None) -> LedgerTree:
        """The ledger's files as they are locally (local branch or remote-tracking, whichever is newer)."""
        return LedgerTree(self.git, commit if commit is not None else self._local_tip(), self.config.branch)
