"""Freight tags: annotated, optionally signed, message = canonical JSON of the Freight."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from kargo_actions.ledger.git import Git
from kargo_actions.model.freight import Freight
from kargo_actions.redact import redact_data
from kargo_actions.struct import struct

SIGNATURE_MARKERS = (
    b"-----BEGIN SSH SIGNATURE-----",
    b"-----BEGIN PGP SIGNATURE-----",
    b"-----BEGIN SIGNED MESSAGE-----",  # x509 (gpgsm)
)


def canonical_json(freight: Freight) -> str:
    """The Freight as one line of JSON: sorted keys, no spaces, status left out (it is derived); secrets
    redacted (a repoURL's password), as in the ledger record."""
    data = freight.model_dump(by_alias=True, exclude_none=True, mode="json", exclude={"status"})
    return json.dumps(redact_data(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@struct
class TagObject:
    """A parsed annotated tag object."""

    oid: str
    target: str
    target_type: str
    name: str
    tagger: str
    message: str
    signature: str | None

    @property
    def signed(self) -> bool:
        return self.signature is not None


def parse_tag(oid: str, data: bytes) -> TagObject:
    head, _, body = data.partition(b"\n\n")
    fields: dict[str, str] = {}
    for line in head.decode(errors="replace").splitlines():
        key, _, value = line.partition(" ")
        fields.setdefault(key, value)
    signature: bytes | None = None
    cut = min((i for m in SIGNATURE_MARKERS if (i := body.find(m)) >= 0), default=-1)
    if cut >= 0:
        body, signature = body[:cut], body[cut:]
    return TagObject(
        oid=oid,
        target=fields.get("object", ""),
        target_type=fields.get("type", ""),
        name=fields.get("tag", ""),
        tagger=fields.get("tagger", ""),
        message=body.decode(errors="replace").strip(),
        signature=signature.decode(errors="replace") if signature is not None else None,
    )


class TagWriter:
    """Makes (signed) annotated tag objects with `git tag` WITHOUT creating the tag in the repository.

    `git tag` runs against a throw-away git dir that shares the repository's object store and includes its
    config, so signing honours the user's git setup (gpg.format, user.signingkey, gpg.program ...), while
    refs/tags is only touched later, in the same atomic step as the ledger branch.
    """

    def __init__(self, git: Git) -> None:
        self._git = git
        self._shadow: Path | None = None

    def _shadow_dir(self) -> Path:
        if self._shadow is None:
            shadow = Path(tempfile.mkdtemp(prefix="kargo-ledger-tag-"))
            self._git.run("init", "-q", "--bare", str(shadow))
            config = (self._git.common_dir / "config").resolve()
            with (shadow / "config").open("a") as f:
                f.write(f'[include]\n\tpath = "{config.as_posix()}"\n')
            self._shadow = shadow
        return self._shadow

    def create(self, name: str, message: str, target: str, sign: bool, env: dict[str, str]) -> str:
        """The id of a new annotated tag object `name` -> `target` (signed when `sign`)."""
        shadow = self._shadow_dir()
        objects = (self._git.common_dir / "objects").resolve()
        args = ["tag", "-f", "--cleanup=verbatim", "-F", "-", "-s" if sign else "-a", name, target]
        run_env = {**env, "GIT_DIR": str(shadow), "GIT_OBJECT_DIRECTORY": str(objects)}
        self._git.run(*args, input=(message + "\n").encode(), env=run_env)
        # The throw-away git dir is never packed, so the new tag is a loose ref file: no rev-parse needed.
        return (shadow / "refs" / "tags" / name).read_text().strip()

    def close(self) -> None:
        if self._shadow is not None:
            shutil.rmtree(self._shadow, ignore_errors=True)
            self._shadow = None


@struct
class SignatureCheck:
    ok: bool
    unknown_key: bool
    bad: bool
    detail: str


def _classify(output: str, ok: bool) -> SignatureCheck:
    text = output.strip()
    if ok:
        return SignatureCheck(ok=True, unknown_key=False, bad=False, detail=text)
    lowered = text.lower()
    bad = "badsig" in lowered or "incorrect signature" in lowered or "bad signature" in lowered
    return SignatureCheck(ok=False, unknown_key=not bad, bad=bad, detail=text)


def verify_signatures(git: Git, tag_oids: Sequence[str]) -> dict[str, SignatureCheck]:
    """`git verify-tag` over signed tags: one process for all when every one is good, else one per tag."""
    if not tag_oids:
        return {}
    proc = git.run("verify-tag", "--raw", *tag_oids, check=False)
    if proc.returncode == 0:
        detail = proc.stderr.decode(errors="replace")
        return {oid: _classify(detail, True) for oid in tag_oids}
    results: dict[str, SignatureCheck] = {}
    for oid in tag_oids:
        one = git.run("verify-tag", "--raw", oid, check=False)
        results[oid] = _classify(one.stderr.decode(errors="replace"), one.returncode == 0)
    return results
