"""Commits through the git database API: GitHub makes and signs them, so they show as verified."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from kargo_actions.github.api.transport import GitHubTransport
from kargo_actions.github.errors import GitHubNotFoundError, GitHubValidationError, RefMovedError
from kargo_actions.github.models import FileChange, GitCommit
from kargo_actions.github.permissions import Op


class GitDatabaseAPI(GitHubTransport):
    """Branches and commits made by GitHub through the git database API (signed: \"Verified\")."""

    def branch_head(self, branch: str) -> str | None:
        return self._branch_head(branch, Op.READ_CONTENTS)

    def _branch_head(self, branch: str, op: Op) -> str | None:
        try:
            data = self._request(op, "GET", f"{self._path}/git/ref/heads/{quote(branch)}")
        except GitHubNotFoundError:
            return None
        return str(data["object"]["sha"])

    def create_branch(self, branch: str, sha: str) -> None:
        self._request(
            Op.WRITE_CONTENTS,
            "POST",
            f"{self._path}/git/refs",
            body={"ref": f"refs/heads/{branch}", "sha": sha},
        )

    def move_branch(self, branch: str, sha: str, *, force: bool = False) -> None:
        """Point an existing branch at sha; without force only a fast-forward (else RefMovedError)."""
        try:
            self._request(
                Op.WRITE_CONTENTS,
                "PATCH",
                f"{self._path}/git/refs/heads/{quote(branch)}",
                body={"sha": sha, "force": force},
            )
        except GitHubValidationError as err:
            if "fast forward" in str(err).lower():
                raise RefMovedError(f"branch {branch!r} is not an ancestor of {sha[:12]}: {err}") from err
            raise

    def commit_files(
        self, branch: str, changes: Sequence[FileChange], message: str, *, expected_head: str = ""
    ) -> GitCommit:
        """One commit on branch with changes, made by GitHub (so it is signed and shows as verified).

        RefMovedError when the branch is not at expected_head or moves before the ref update (re-read, retry).
        """
        head = self._branch_head(branch, Op.WRITE_CONTENTS)
        if head is None:
            raise GitHubNotFoundError(
                f"cannot commit to {self.repository}: branch {branch!r} does not exist", 404
            )
        if expected_head and head != expected_head:
            raise RefMovedError(
                f"branch {branch!r} is at {head[:12]}, not {expected_head[:12]}: re-read and retry"
            )
        commit = self.create_commit(head, changes, message)
        try:
            self._request(
                Op.WRITE_CONTENTS,
                "PATCH",
                f"{self._path}/git/refs/heads/{quote(branch)}",
                body={"sha": commit.sha, "force": False},
            )
        except GitHubValidationError as err:
            if "fast forward" in str(err).lower():
                raise RefMovedError(
                    f"branch {branch!r} moved while committing; re-read and retry ({err})"
                ) from err
            raise
        return commit

    def create_commit(
        self, parent: str, changes: Sequence[FileChange], message: str, *, parent_tree: str = ""
    ) -> GitCommit:
        """A commit of `changes` on top of `parent`, made by GitHub (signed, verified), that no ref points at
        yet: chain several, then move a branch once (move_branch / create_branch). parent_tree saves a read."""
        if not parent_tree:
            parent_tree = self._request(Op.WRITE_CONTENTS, "GET", f"{self._path}/git/commits/{parent}")[
                "tree"
            ]["sha"]
        entries: list[dict[str, Any]] = []
        for change in changes:
            mode = "100755" if change.executable else "100644"
            if change.content is None:
                entries.append({"path": change.path, "mode": mode, "type": "blob", "sha": None})
                continue
            blob = self._request(
                Op.WRITE_CONTENTS,
                "POST",
                f"{self._path}/git/blobs",
                body={"content": base64.b64encode(change.content).decode(), "encoding": "base64"},
            )
            entries.append({"path": change.path, "mode": mode, "type": "blob", "sha": blob["sha"]})
        tree = self._request(
            Op.WRITE_CONTENTS,
            "POST",
            f"{self._path}/git/trees",
            body={"base_tree": parent_tree, "tree": entries},
        )
        commit = self._request(
            Op.WRITE_CONTENTS,
            "POST",
            f"{self._path}/git/commits",
            body={"message": message, "tree": tree["sha"], "parents": [parent]},
        )
        return GitCommit(
            sha=commit["sha"],
            tree=commit["tree"]["sha"],
            parents=tuple(p["sha"] for p in commit["parents"]),
            message=commit["message"],
            verified=bool(commit["verification"]["verified"]),
            html_url=commit["html_url"],
        )
