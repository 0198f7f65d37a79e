"""oci-push: copies or retags an OCI artifact (image, multi-platform index, Helm chart) to a tag in a registry."""

from __future__ import annotations

import json
from dataclasses import field
from typing import Annotated, Any, ClassVar

from pydantic import Field, StrictBool

from kargo_actions.oci.client import RepositoryClient
from kargo_actions.oci.errors import RegistryError
from kargo_actions.oci.manifests import INDEX_TYPES, OCI_INDEX, OCI_MANIFEST, digest_of, is_index
from kargo_actions.promotion.step_api import StepConfig, StepContext, StepResult, TerminalStepError
from kargo_actions.promotion.steps.support.ociutil import (
    IMAGE_REF_PATTERN,
    TAGGED_REF_PATTERN,
    ImageRef,
    json_object,
    registry_session,
    step_error,
)
from kargo_actions.struct import struct

MAX_COPY_BYTES = 1024 * 1024 * 1024  # Kargo's 1 GiB of config and layers
MAX_COPY_ENV = "KARGO_ACTIONS_OCI_PUSH_MAX_BYTES"


class OCIPushConfig(StepConfig):
    """Kargo's OCIPushConfig."""

    src_ref: Annotated[str, Field(min_length=1, pattern=IMAGE_REF_PATTERN)] = Field(
        description="The artifact to copy: `registry/repository:tag` or `registry/repository@sha256:...` "
        "(`oci://` allowed, e.g. for Helm charts)."
    )
    dest_ref: Annotated[str, Field(min_length=1, pattern=TAGGED_REF_PATTERN)] = Field(
        description="Where to put it, with a tag: `registry/repository:tag`; the source's repository with "
        "another tag retags in place."
    )
    annotations: dict[str, str] | None = Field(
        default=None,
        description="Annotations to add to (or change on) the copy; `index:` / `manifest:` prefixes choose the "
        "index or the image manifests, no prefix means the image manifests.",
    )
    insecure_skip_tls_verify: StrictBool = Field(
        default=False,
        alias="insecureSkipTLSVerify",
        description="Accept any TLS certificate from both registries (not recommended).",
    )


@struct(frozen=False)
class _Copy:
    """One copy: the two repositories, what was moved, and the byte budget."""

    source: RepositoryClient
    dest: RepositoryClient
    same_repository: bool
    cap: int
    ctx: StepContext
    moved: int = 0
    copied: set[str] = field(default_factory=set)

    def blob(self, descriptor: dict[str, Any]) -> None:
        digest = str(descriptor["digest"])
        if self.same_repository or digest in self.copied:
            return
        size = descriptor.get("size")
        self.moved += size if isinstance(size, int) else 0
        if self.moved > self.cap:
            raise TerminalStepError(f"the artifact is over the copy limit of {self.cap} bytes")
        self.ctx.check_abort()
        if not self.dest.blob_exists(digest):
            self.dest.put_blob(self.source.get_blob(digest))
        self.copied.add(digest)


class OCIPush:
    """Copy the manifest (every platform's, for an index) and the blobs the destination lacks, then tag it.

    Without annotations the bytes are copied unchanged, so the digest stays the source's. Within one
    repository only manifests move (no size limit). Credentials: docker config.json, as for discovery.
    """

    name: ClassVar[str] = "oci-push"
    config_model: ClassVar[type[StepConfig]] = OCIPushConfig
    outputs: ClassVar[dict[str, str]] = {
        "image": "the destination reference with its tag (destRef without `oci://`)",
        "digest": "the digest of what was pushed (`sha256:...`)",
        "tag": "the tag that was set (from destRef)",
    }

    def run(self, ctx: StepContext, config: OCIPushConfig) -> StepResult:
        src = ImageRef.parse(config.src_ref, "srcRef")
        dest = ImageRef.parse(config.dest_ref, "destRef")
        manifest_notes, index_notes = _split_annotations(config.annotations or {})
        insecure = config.insecure_skip_tls_verify
        try:
            with registry_session(ctx) as session:
                copy = _Copy(
                    source=session.repository(src.repository, insecure_skip_tls_verify=insecure),
                    dest=session.repository(dest.repository, insecure_skip_tls_verify=insecure, push=True),
                    same_repository=src.same_repository(dest),
                    cap=_cap(ctx),
                    ctx=ctx,
                )
                fetched = copy.source.get_manifest(src.reference)
                data = json_object(fetched.body, config.src_ref)
                media_type = str(data.get("mediaType") or fetched.media_type or OCI_MANIFEST)
                if is_index(media_type, data):
                    body = self._index(copy, data, fetched.body, manifest_notes, index_notes)
                    media_type = media_type if media_type in INDEX_TYPES else OCI_INDEX
                else:
                    body = self._image(copy, data, fetched.body, manifest_notes)
                digest = copy.dest.put_manifest(dest.reference, body, media_type)
        except RegistryError as err:
            raise step_error(err, f"oci-push {config.src_ref} -> {config.dest_ref}") from err
        image = config.dest_ref.removeprefix("oci://")
        return StepResult(
            message=f"pushed {digest} to {image}" + (f" ({copy.moved} bytes copied)" if copy.moved else ""),
            outputs={"image": image, "digest": digest, "tag": dest.reference},
        )

    def _image(self, copy: _Copy, data: dict[str, Any], body: bytes, notes: dict[str, str]) -> bytes:
        """Copy one image manifest's blobs; its bytes, re-encoded only when annotations change it."""
        config = data.get("config")
        for descriptor in [config, *(data.get("layers") or [])]:
            if isinstance(descriptor, dict) and "digest" in descriptor:
                copy.blob(descriptor)
        return _annotated(data, body, notes)

    def _index(
        self,
        copy: _Copy,
        data: dict[str, Any],
        body: bytes,
        manifest_notes: dict[str, str],
        index_notes: dict[str, str],
    ) -> bytes:
        """Copy every child manifest (annotated, pushed by digest), then the index pointing at them."""
        children = []
        changed = False
        for entry in data.get("manifests") or []:
            if not isinstance(entry, dict) or "digest" not in entry:
                raise TerminalStepError("the source index has an entry without a digest")
            fetched = copy.source.get_manifest(str(entry["digest"]))
            child = json_object(fetched.body, str(entry["digest"]))
            if "manifests" in child:
                raise TerminalStepError("nested image indexes are not supported")
            child_body = self._image(copy, child, fetched.body, manifest_notes)
            child_type = str(
                child.get("mediaType") or entry.get("mediaType") or fetched.media_type or OCI_MANIFEST
            )
            digest = digest_of(child_body)
            copy.dest.put_manifest(digest, child_body, child_type)
            changed = changed or digest != entry["digest"]
            children.append({**entry, "digest": digest, "size": len(child_body)})
        if changed:
            data = {**data, "manifests": children}
            body = json.dumps(data, separators=(",", ":")).encode()
        return _annotated(data, body, index_notes)


def _annotated(data: dict[str, Any], body: bytes, notes: dict[str, str]) -> bytes:
    if not notes:
        return body
    merged = {**(data.get("annotations") or {}), **notes}
    return json.dumps({**data, "annotations": merged}, separators=(",", ":")).encode()


def _split_annotations(annotations: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    manifest: dict[str, str] = {}
    index: dict[str, str] = {}
    for key, value in annotations.items():
        if key.startswith("index:"):
            index[key.removeprefix("index:")] = value
        else:
            manifest[key.removeprefix("manifest:")] = value
    return manifest, index


def _cap(ctx: StepContext) -> int:
    raw = ctx.env.get(MAX_COPY_ENV, "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else MAX_COPY_BYTES
