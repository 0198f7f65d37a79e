"""Freight verification: tag signature, tag JSON, ledger record and recomputed ID must all agree."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable

from pydantic import ValidationError

from kargo_actions.errors import RefusedError
from kargo_actions.freight.identity import freight_id
from kargo_actions.ledger.config import SigningPolicy
from kargo_actions.ledger.reader import FreightEntry
from kargo_actions.ledger.records import LedgerRecordError, load_freight
from kargo_actions.ledger.store import Ledger, Snapshot
from kargo_actions.ledger.tags import TagObject, canonical_json, parse_tag, verify_signatures
from kargo_actions.model.freight import Freight
from kargo_actions.model.messages import one_line
from kargo_actions.struct import struct


class Finding(enum.StrEnum):
    UNSIGNED = "unsigned"
    UNKNOWN_KEY = "unknown-key"  # signed, but by a key git does not trust (or cannot check)
    BAD_SIGNATURE = "bad-signature"  # the signature does not match the tag: tampered after signing
    TAMPERED = "tampered"  # tag JSON, ledger record and recomputed ID disagree
    MISSING_TAG = "missing-tag"
    MISSING_RECORD = "missing-record"
    UNREADABLE = "unreadable"  # the record or tag cannot be parsed


# Signature findings a policy below `required` tolerates when reading a Freight for promotion.
_SOFT = frozenset({Finding.UNSIGNED, Finding.UNKNOWN_KEY})


@struct
class FreightCheck:
    """The verification of one Freight: what was found wrong, with details."""

    warehouse: str
    id: str
    alias: str | None
    tag: str
    findings: tuple[Finding, ...]
    details: tuple[str, ...]
    signer: str | None = None

    @property
    def ok(self) -> bool:
        return not self.findings

    def failed(self, policy: SigningPolicy) -> bool:
        """Whether this Freight fails `freight verify`: unsigned only counts when signatures are expected."""
        findings = set(self.findings)
        if policy is SigningPolicy.NEVER:
            findings.discard(Finding.UNSIGNED)
        return bool(findings)

    def line(self, policy: SigningPolicy = SigningPolicy.AUTO) -> str:
        name = f"{self.warehouse}/{self.id}" + (f" ({self.alias})" if self.alias else "")
        if self.ok:
            return f"{name}: ok" + (f", signed by {self.signer}" if self.signer else "")
        if not self.failed(policy):
            return f"{name}: ok ({', '.join(self.findings)}; signing policy {policy})"
        return f"{name}: {', '.join(self.findings)}" + (
            f" - {'; '.join(self.details)}" if self.details else ""
        )


def _immutable(data: dict[str, object]) -> dict[str, object]:
    """The fields a Freight can never change (alias is mutable, status and timestamps derived)."""
    keep = ("apiVersion", "kind", "origin", "commits", "images", "charts")
    meta = data.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    return {"name": name, **{k: data.get(k) for k in keep}}


def _signer(detail: str) -> str | None:
    for line in detail.splitlines():
        if line.startswith('Good "git" signature for '):
            return line.removeprefix('Good "git" signature for ').split(" with ")[0]
        if "GOODSIG" in line:
            return line.split("GOODSIG", 1)[1].strip().split(" ", 1)[-1]
    return None


def _tag_refs(
    ledger: Ledger, prefix: str, only: Iterable[tuple[str, str]] | None = None
) -> dict[tuple[str, str], tuple[str, str]]:
    """(warehouse, id) -> (object id, object type) of every local Freight tag (or of those `only` names), from
    one for-each-ref."""
    patterns = [prefix] if only is None else [f"{prefix}{warehouse}/{fid}" for warehouse, fid in only]
    if not patterns:
        return {}
    listing = ledger.git.run("for-each-ref", "--format=%(refname) %(objectname) %(objecttype)", *patterns)
    tag_refs: dict[tuple[str, str], tuple[str, str]] = {}
    for line in listing.stdout.decode().splitlines():
        ref, oid, kind = line.split(" ")
        warehouse, _, fid = ref.removeprefix(prefix).rpartition("/")
        tag_refs[(warehouse, fid)] = (oid, kind)
    return tag_refs


def verify_freight(
    ledger: Ledger, refs: Iterable[str] | None = None, snapshot: Snapshot | None = None
) -> list[FreightCheck]:
    """Check the named Freight (REFs), or every Freight that has a record or a tag when refs is None."""
    snap = snapshot or ledger.snapshot()
    cfg = ledger.config
    prefix = f"refs/tags/{cfg.tag_prefix}/"

    entries: dict[tuple[str, str], FreightEntry | None]
    if refs is None:
        tag_refs = _tag_refs(ledger, prefix)
        entries = {(e.warehouse, e.id): e for e in snap.freight_entries()}
        for key in tag_refs:
            entries.setdefault(key, None)
    else:  # the named Freight's tags alone: a promotion does not list a large ledger's every tag
        entries = {}
        for ref in refs:
            entry = ledger.resolve(ref, snap)
            entries[(entry.warehouse, entry.id)] = entry
        tag_refs = _tag_refs(ledger, prefix, entries)

    missing = [key for key, e in entries.items() if e is not None and key not in tag_refs]
    if ledger.remote and missing:
        # Records of other writers arrive with the ledger branch, their tags only on request.
        if refs is None:
            ledger.fetch_freight_tags()
        else:
            for warehouse, fid in missing:
                ledger._ensure_tag(cfg.tag_name(warehouse, fid))
        tag_refs = _tag_refs(ledger, prefix, None if refs is None else entries)
    present = [e for e in entries.values() if e is not None]
    records: dict[tuple[str, str], Freight | str] = {}
    blobs = ledger.git.reader.get_many([e.blob for e in present])
    for entry, obj in zip(present, blobs, strict=True):
        try:
            if obj is None:
                raise ValueError("record object missing")
            records[(entry.warehouse, entry.id)] = load_freight(
                obj[1], f"freight/{entry.warehouse}/{entry.id}.json"
            )
        except (ValueError, LedgerRecordError) as err:
            records[(entry.warehouse, entry.id)] = f"record unreadable: {str(err).splitlines()[0]}"

    wanted_tags = [(key, tag_refs[key]) for key in entries if key in tag_refs]
    tag_objects: dict[tuple[str, str], TagObject | str] = {}
    objs = ledger.git.reader.get_many([oid for _, (oid, _) in wanted_tags])
    for (key, (oid, kind)), obj in zip(wanted_tags, objs, strict=True):
        if kind != "tag" or obj is None or obj[0] != "tag":
            tag_objects[key] = "a lightweight tag, not an annotated Freight tag"
        else:
            tag_objects[key] = parse_tag(oid, obj[1])
    signed = [t.oid for t in tag_objects.values() if isinstance(t, TagObject) and t.signed]
    signatures = verify_signatures(ledger.git, signed)

    checks: list[FreightCheck] = []
    for key in sorted(entries):
        warehouse, fid = key
        findings: list[Finding] = []
        details: list[str] = []
        record = records.get(key)
        tag = tag_objects.get(key)
        signer = None
        alias = record.alias if isinstance(record, Freight) else None
        if record is None:
            findings.append(Finding.MISSING_RECORD)
            details.append(
                f"no record on {cfg.branch}: `kargo-actions ledger repair` restores it from the tag"
            )
        elif isinstance(record, str):
            findings.append(Finding.UNREADABLE)
            details.append(record)
        if tag is None:
            findings.append(Finding.MISSING_TAG)
        elif isinstance(tag, str):
            findings.append(Finding.TAMPERED)
            details.append(tag)
        else:
            if not tag.signed:
                findings.append(Finding.UNSIGNED)
            else:
                sig = signatures[tag.oid]
                if sig.bad:
                    findings.append(Finding.BAD_SIGNATURE)
                    details.append(sig.detail.splitlines()[-1] if sig.detail else "bad signature")
                elif not sig.ok:
                    findings.append(Finding.UNKNOWN_KEY)
                    details.append(sig.detail.splitlines()[-1] if sig.detail else "signature not verifiable")
                else:
                    signer = _signer(sig.detail)
            tampered = _compare(tag, record if isinstance(record, Freight) else None, fid, cfg.tag_name(*key))
            if tampered:
                findings.append(Finding.TAMPERED)
                details.extend(tampered)
        checks.append(
            FreightCheck(
                warehouse=warehouse,
                id=fid,
                alias=alias,
                tag=cfg.tag_name(warehouse, fid),
                findings=tuple(dict.fromkeys(findings)),
                details=tuple(details),
                signer=signer,
            )
        )
    return checks


def _compare(tag: TagObject, record: Freight | None, fid: str, tag_name: str) -> list[str]:
    problems: list[str] = []
    if tag.name != tag_name:
        problems.append(f"tag object names {tag.name!r}, not {tag_name!r}")
    try:
        data = json.loads(tag.message)
        tag_freight = Freight.model_validate(data)
    except ValidationError as err:
        return [*problems, f"tag message is not a Freight ({one_line(err, Freight)})"]
    except ValueError as err:
        return [*problems, f"tag message is not a Freight ({err})"]
    recomputed = freight_id(tag_freight.origin, tag_freight.commits, tag_freight.images, tag_freight.charts)
    if recomputed != fid:
        problems.append(f"the tag's artifacts have ID {recomputed}, not {fid}")
    if tag.message != canonical_json(tag_freight):
        problems.append("tag message is not the canonical JSON of its Freight")
    if record is not None:
        if record.name != fid:
            problems.append(f"ledger record is named {record.name}")
        rec = record
        rec_id = freight_id(rec.origin, rec.commits, rec.images, rec.charts)
        if rec_id != fid:
            problems.append(f"the ledger record's artifacts have ID {rec_id}, not {fid}")
        if _immutable(json.loads(canonical_json(rec))) != _immutable(data):
            problems.append("tag and ledger record disagree")
    return problems


def refuse_failures(checks: Iterable[FreightCheck], policy: SigningPolicy) -> None:
    """RefusedError naming every Freight that failed (exit 3)."""
    failed = [c for c in checks if c.failed(policy)]
    if failed:
        raise RefusedError(
            "Freight verification failed:\n" + "\n".join(f"  {c.line(policy)}" for c in failed)
        )


def read_for_promotion(ledger: Ledger, ref: str) -> Freight:
    """A Freight to promote, after the same checks as `freight verify`.

    Integrity failures (tampered, bad signature, missing tag or record) always refuse; an unsigned
    Freight or one signed by an unknown key is refused only under signing policy `required`.
    """
    snap = ledger.snapshot()
    entry = ledger.resolve(ref, snap)
    (check,) = verify_freight(ledger, [entry.id], snap)
    policy = ledger.config.signing
    blocking = [f for f in check.findings if policy is SigningPolicy.REQUIRED or f not in _SOFT]
    if blocking:
        raise RefusedError(
            f"Freight {check.warehouse}/{check.id} cannot be promoted: {check.line(policy)}",
        )
    return ledger.get_freight(entry.id, snap)


__all__ = [
    "Finding",
    "FreightCheck",
    "check_promotable",
    "read_for_promotion",
    "refuse_failures",
    "verify_freight",
]


def check_promotable(ledger: Ledger, fid: str, snap: Snapshot) -> None:
    """read_for_promotion's check of one Freight on a given snapshot (fetching its tag if this clone lacks it).

    RefusedError as read_for_promotion raises it; used inside a ledger write, where the snapshot is fresh.
    """
    entry = ledger.resolve(fid, snap)
    (check,) = verify_freight(ledger, [entry.id], snap)  # fetches the tag if this clone lacks it
    policy = ledger.config.signing
    blocking = [f for f in check.findings if policy is SigningPolicy.REQUIRED or f not in _SOFT]
    if blocking:
        raise RefusedError(f"Freight {check.warehouse}/{check.id} cannot be promoted: {check.line(policy)}")
