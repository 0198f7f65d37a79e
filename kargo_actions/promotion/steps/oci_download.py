"""oci-download: saves one layer of an OCI artifact (a Helm chart, a config bundle) from a registry to a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import Field, StrictBool

from kargo_actions.oci.errors import RegistryError
from kargo_actions.oci.manifests import is_index
from kargo_actions.promotion.step_api import StepConfig, StepContext, StepResult, TerminalStepError
from kargo_actions.promotion.steps.support.download import download_target
from kargo_actions.promotion.steps.support.ociutil import (
    IMAGE_REF_PATTERN,
    ImageRef,
    json_object,
    registry_session,
    step_error,
)

MAX_DOWNLOAD_BYTES = 100 * 1024 * 1024  # Kargo's 100 MiB
MAX_DOWNLOAD_ENV = "KARGO_ACTIONS_OCI_DOWNLOAD_MAX_BYTES"


class OCIDownloadConfig(StepConfig):
    """Kargo's OCIDownloadConfig."""

    image_ref: Annotated[str, Field(min_length=1, pattern=IMAGE_REF_PATTERN)] = Field(
        description="The artifact: `registry/repository:tag` or `registry/repository@sha256:...` "
        "(an `oci://` prefix is allowed)."
    )
    out_path: Annotated[str, Field(min_length=1)] = Field(
        description="The file to write the layer to, relative to the work dir; missing folders are created."
    )
    allow_overwrite: StrictBool = Field(
        default=False, description="Replace a file already at outPath; without it such a file fails the step."
    )
    media_type: Annotated[str, Field(min_length=1)] | None = Field(
        default=None, description="Take the first layer of this media type; unset, the first layer."
    )
    insecure_skip_tls_verify: StrictBool = Field(
        default=False,
        alias="insecureSkipTLSVerify",
        description="Accept any TLS certificate from the registry (not recommended).",
    )


class OCIDownload:
    """Fetch the manifest, choose the layer, fetch it (digest checked) and move it into place atomically.

    Credentials come from docker config.json (DOCKER_CONFIG) as for discovery; loopback registries and
    KARGO_ACTIONS_INSECURE_REGISTRIES speak plain HTTP. Layers over 100 MiB are refused.
    """

    name: ClassVar[str] = "oci-download"
    config_model: ClassVar[type[StepConfig]] = OCIDownloadConfig
    effects_local: ClassVar[bool] = True  # changes nothing outside the work dir (see Step)
    outputs: ClassVar[dict[str, str]] = {}

    def run(self, ctx: StepContext, config: OCIDownloadConfig) -> StepResult:
        target = download_target(ctx, config.out_path, config.allow_overwrite)
        ref = ImageRef.parse(config.image_ref, "imageRef")
        cap = _cap(ctx)
        try:
            with registry_session(ctx) as session:
                client = session.repository(
                    ref.repository, insecure_skip_tls_verify=config.insecure_skip_tls_verify
                )
                fetched = client.get_manifest(ref.reference)
                manifest = json_object(fetched.body, config.image_ref)
                if is_index(fetched.media_type, manifest):
                    raise TerminalStepError(
                        f"imageRef {config.image_ref!r} is an image index (several platforms); "
                        "give the digest of one of its manifests"
                    )
                layer = _choose_layer(manifest, config.media_type, config.image_ref)
                size = layer.get("size")
                if isinstance(size, int) and size > cap:
                    raise TerminalStepError(
                        f"layer {layer['digest']} of {config.image_ref} is {size} bytes, over the limit of {cap}"
                    )
                ctx.check_abort()
                data = client.get_blob(str(layer["digest"]))
        except RegistryError as err:
            raise step_error(err, f"oci-download {config.image_ref}") from err
        if len(data) > cap:
            raise TerminalStepError(f"layer of {config.image_ref} is over the limit of {cap} bytes")
        _write_atomically(target, data)
        return StepResult(message=f"saved layer {layer['digest']} ({len(data)} bytes) to {config.out_path}")


def _choose_layer(manifest: dict[str, Any], media_type: str | None, ref: str) -> dict[str, Any]:
    layers = [
        layer for layer in manifest.get("layers") or [] if isinstance(layer, dict) and "digest" in layer
    ]
    if not layers:
        raise TerminalStepError(f"{ref} has no layers")
    if media_type is None:
        return layers[0]
    for layer in layers:
        if layer.get("mediaType") == media_type:
            return layer
    present = ", ".join(sorted({str(layer.get("mediaType", "?")) for layer in layers}))
    raise TerminalStepError(f"{ref} has no layer of media type {media_type!r} (it has {present})")


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def _cap(ctx: StepContext) -> int:
    raw = ctx.env.get(MAX_DOWNLOAD_ENV, "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else MAX_DOWNLOAD_BYTES
